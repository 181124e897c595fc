package config

import "os"

// checkFiles opens every file the configuration names for what will use
// it, so that a mistyped path is reported with its key at load, before
// NATS starts, rather than by the stage that opens it later. Files the
// daemon creates itself are not among them.
func (cfg *Config) checkFiles(c *checker) {
	if n := cfg.NATS; len(n.URLs) > 0 {
		c.readable("nats.credentials_file", n.CredentialsFile)
		c.readable("nats.nkey_file", n.NKeyFile)
		c.readable("nats.tls.ca_file", n.TLS.CAFile)
		c.readable("nats.tls.cert_file", n.TLS.CertFile)
		c.readable("nats.tls.key_file", n.TLS.KeyFile)
	}
	if n := cfg.Notify; n.SMTP.Host != "" {
		c.readable("notify.smtp.ca_file", n.SMTP.CAFile)
	}
	c.readable("notify.dkim.key_file", cfg.Notify.DKIM.KeyFile)
	c.directory("notify.templates_dir", cfg.Notify.TemplatesDir)
	c.readable("route.partners_file", cfg.Route.PartnersFile)
	if e := cfg.Enrich; e.Enabled {
		c.readable("enrich.geoip.country_path", e.GeoIP.CountryPath)
		c.readable("enrich.geoip.asn_path", e.GeoIP.ASNPath)
		c.readable("enrich.cdn.path", e.CDN.Path)
	}
	c.readable("api.tls_cert_file", cfg.API.TLSCertFile)
	c.readable("api.tls_key_file", cfg.API.TLSKeyFile)
	if s := cfg.Inbound.SMTP; s.Listen != "" {
		c.readable("inbound.smtp.tls_cert_file", s.TLSCertFile)
		c.readable("inbound.smtp.tls_key_file", s.TLSKeyFile)
	}
}

// readable checks that the file at path (if any) can be opened for
// reading and is not a directory.
func (c *checker) readable(key, path string) {
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		c.add(key, "cannot read: %v", err)
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		c.add(key, "%s is a directory, not a file", path)
	}
}

// directory checks that path (if any) is a directory that can be listed.
func (c *checker) directory(key, path string) {
	if path == "" {
		return
	}
	if _, err := os.ReadDir(path); err != nil {
		c.add(key, "cannot read directory: %v", err)
	}
}
