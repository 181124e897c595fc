package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets used by the cases; none of them may appear in an error.
const (
	tokenA = "0123456789abcdef0123456789abcdef-A"
	tokenB = "0123456789abcdef0123456789abcdef-B"
)

// TestValidateRules has one case per rule of load-time validation. Each
// YAML is decoded over the defaults; a case wants a problem at wantKey,
// or none when wantKey is empty.
func TestValidateRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("token", tokenA+"\n")
	emptyFile := write("empty", "\n")
	missing := filepath.Join(dir, "missing")
	// Not parallel: the environment is shared by the whole process.
	t.Setenv("TAKEDOWND_TEST_TOKEN_A", tokenA)
	t.Setenv("TAKEDOWND_TEST_EMPTY", "")
	os.Unsetenv("TAKEDOWND_TEST_UNSET")

	tokens := func(list ...string) string {
		return "api:\n  tokens:\n" + strings.Join(list, "")
	}
	token := func(name, role, secret string) string {
		return "    - {name: " + name + ", role: " + role + ", token: " + secret + "}\n"
	}
	bound := func(role, binding string) string {
		return tokens("    - {name: t, role: " + role + ", token: " + tokenA + ", " + binding + "}\n")
	}
	tests := []struct {
		name, yaml, wantKey string
	}{
		// Listen and connect addresses.
		{"api listen port out of range", `api: {listen: ":99999"}`, "api.listen"},
		{"api listen without port", `api: {listen: "nohost"}`, "api.listen"},
		{"api listen named port", `api: {listen: "127.0.0.1:http"}`, "api.listen"},
		{"api listen negative port", `api: {listen: "127.0.0.1:-1"}`, "api.listen"},
		{"api listen port 0 picks a free port", `api: {listen: "127.0.0.1:0"}`, ""},
		{"api listen on every interface", `api: {listen: ":8080"}`, ""},
		{"embedded nats listen port out of range", `nats: {embedded: {listen: "127.0.0.1:65536"}}`, "nats.embedded.listen"},
		{"embedded nats listen port 0 picks a free port", `nats: {embedded: {listen: "127.0.0.1:0"}}`, ""},
		{"inbound smtp listen port out of range", `inbound: {smtp: {listen: "127.0.0.1:70000"}}`, "inbound.smtp.listen"},
		{"inbound smtp listen port 0 refused", `inbound: {smtp: {listen: "127.0.0.1:0"}}`, "inbound.smtp.listen"},
		{"inbound smtp listen host with a space", `inbound: {smtp: {listen: "my host:25"}}`, "inbound.smtp.listen"},
		{"dns server port out of range", `enrich: {dns: {servers: ["127.0.0.1:99999"]}}`, "enrich.dns.servers[0]"},
		{"unresolvable retry every second", `enrich: {unresolvable_every: 1s}`, "enrich.unresolvable_every"},
		{"unresolvable retry every second, enrichment off", `enrich: {enabled: false, unresolvable_every: 1s}`, "enrich.unresolvable_every"},
		{"contact health forgets at once", `notify: {contact_health_ttl: 0s}`, "notify.contact_health_ttl"},
		{"connect_to target port 0", `recheck: {probe: {connect_to: {"a.test:80": "127.0.0.1:0"}}}`, `recheck.probe.connect_to["a.test:80"]`},

		// Secrets resolve.
		{"token from an unset variable", tokens(token("a", "admin", "{env: TAKEDOWND_TEST_UNSET}")), "api.tokens[0].token"},
		{"token from an empty variable", tokens(token("a", "admin", "{env: TAKEDOWND_TEST_EMPTY}")), "api.tokens[0].token"},
		{"token from a variable", tokens(token("a", "admin", "{env: TAKEDOWND_TEST_TOKEN_A}")), ""},
		{"token from a file", tokens(token("a", "admin", "{file: "+tokenFile+"}")), ""},
		{"smtp password from a missing file", "notify: {smtp: {host: 127.0.0.1, username: u, password: {file: " + missing + "}}}", "notify.smtp.password"},
		{"nats password from an empty file", "nats: {password: {file: " + emptyFile + "}}", "nats.password"},
		{"nats token from an unset variable", "nats: {token: {env: TAKEDOWND_TEST_UNSET}}", "nats.token"},
		{"secret with two sources", "nats: {password: {value: x, env: TAKEDOWND_TEST_TOKEN_A}}", "nats.password"},

		// Plain SMTP only to loopback.
		{"tls none to a remote relay", "notify: {smtp: {host: smtp.example.net, tls: none}}", "notify.smtp.tls"},
		{"tls none to a private address", "notify: {smtp: {host: 10.0.0.25, tls: none}}", "notify.smtp.tls"},
		{"tls none to 127.0.0.1", "notify: {smtp: {host: 127.0.0.1, port: 25, tls: none}}", ""},
		{"tls none to ::1", "notify: {smtp: {host: \"::1\", port: 25, tls: none}}", ""},
		{"tls none to localhost", "notify: {smtp: {host: localhost, port: 25, tls: none}}", ""},
		{"tls none to a remote relay with allow_insecure", "notify: {smtp: {host: mta.internal, port: 25, tls: none, allow_insecure: true}}", ""},
		{"starttls to a remote relay", "notify: {smtp: {host: smtp.example.net}}", ""},

		// API tokens: long enough, one secret each.
		{"one-character token", tokens(token("a", "admin", "x")), "api.tokens[0].token"},
		{"31-character token", tokens(token("a", "admin", tokenA[:31])), "api.tokens[0].token"},
		{"32-character token", tokens(token("a", "admin", tokenA[:32])), ""},
		{"one secret for two roles", tokens(token("a", "admin", tokenA), token("r", "reader", tokenA)), "api.tokens[1].token"},
		{"one secret for two tokens by different sources", tokens(token("a", "admin", "{env: TAKEDOWND_TEST_TOKEN_A}"), token("r", "reader", "{file: "+tokenFile+"}")), "api.tokens[1].token"},
		{"token is also the smtp password", tokens(token("a", "admin", tokenA)) + "notify: {smtp: {host: smtp.example.net, username: u, password: " + tokenA + "}}", "notify.smtp.password"},
		{"two tokens of their own", tokens(token("a", "admin", tokenA), token("r", "reader", tokenB)), ""},

		// API roles and what partner and hoster tokens are bound to.
		{"viewer role", tokens(token("v", "viewer", tokenA)), ""},
		{"unknown role", tokens(token("v", "superuser", tokenA)), "api.tokens[0].role"},
		{"two tokens of one name", tokens(token("a", "admin", tokenA), token("a", "viewer", tokenB)), "api.tokens[1].name"},
		{"partner token", bound("partner", "partner: DE"), ""},
		{"partner token without its hotline", tokens(token("p", "partner", tokenA)), "api.tokens[0].partner"},
		{"partner token with a lower-case country", bound("partner", "partner: de"), "api.tokens[0].partner"},
		{"partner token for the hotline's own country", bound("partner", "partner: NL"), "api.tokens[0].partner"},
		{"partner token bound to domains", bound("partner", "partner: DE, domains: [a.de]"), "api.tokens[0]"},
		{"hoster token by domain", bound("hoster", "domains: [hoster-a.nl, xn--bcher-kva.example]"), ""},
		{"hoster token by ASN", bound("hoster", "asns: [64500]"), ""},
		{"hoster token bound to nothing", tokens(token("h", "hoster", tokenA)), "api.tokens[0]"},
		{"hoster token with an address for a domain", bound("hoster", "domains: [abuse@hoster-a.nl]"), "api.tokens[0].domains[0]"},
		{"hoster token with a wildcard domain", bound("hoster", "domains: [hoster-a.nl, \"*.hoster-a.nl\"]"), "api.tokens[0].domains[1]"},
		{"hoster token with a single label", bound("hoster", "domains: [localhost]"), "api.tokens[0].domains[0]"},
		{"hoster token with AS0", bound("hoster", "asns: [0]"), "api.tokens[0].asns[0]"},
		{"hoster token with an AS beyond 32 bits", bound("hoster", "asns: [4294967296]"), "api.tokens[0].asns[0]"},
		{"hoster token bound to a partner", bound("hoster", "domains: [a.nl], partner: DE"), "api.tokens[0].partner"},
		{"analyst token bound to domains", bound("analyst", "domains: [a.nl]"), "api.tokens[0]"},

		// Files the configuration names can be read.
		{"missing smtp ca file", "notify: {smtp: {host: smtp.example.net, ca_file: " + missing + "}}", "notify.smtp.ca_file"},
		{"missing dkim key", "notify: {dkim: {domain: h.example, selector: s, key_file: " + missing + "}}", "notify.dkim.key_file"},
		{"templates dir is a file", "notify: {templates_dir: " + tokenFile + "}", "notify.templates_dir"},
		{"templates dir exists", "notify: {templates_dir: " + dir + "}", ""},
		{"partners file is a directory", "route: {partners_file: " + dir + "}", "route.partners_file"},
		{"missing geoip database", "enrich: {geoip: {country_path: " + missing + "}}", "enrich.geoip.country_path"},
		{"missing geoip database with enrichment off", "enrich: {enabled: false, geoip: {country_path: " + missing + "}}", ""},
		{"missing cdn list", "enrich: {cdn: {path: " + missing + "}}", "enrich.cdn.path"},
		{"missing inbound certificate", "inbound: {smtp: {listen: \"127.0.0.1:2525\", tls_cert_file: " + missing + ", tls_key_file: " + tokenFile + "}}", "inbound.smtp.tls_cert_file"},
		{"missing nats credentials", "nats: {urls: [\"nats://127.0.0.1:4222\"], credentials_file: " + missing + "}", "nats.credentials_file"},
		{"nats credentials unused with the embedded server", "nats: {credentials_file: " + missing + "}", ""},

		// Choices.
		{"x-arf default unknown", "notify: {xarf: {default: always}}", "notify.xarf.default"},
		{"x-arf per url", "notify: {xarf: {default: per_url}}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			if err := Decode([]byte(tt.yaml), &cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Errorf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Fatalf("want a problem with %s, got %v", tt.wantKey, err)
			}
			for _, secret := range []string{tokenA, tokenA[:31], tokenB} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// TestDuplicateSecretNamesBothKeys checks that the problem says which two
// keys share a secret, so the operator knows what to change.
func TestDuplicateSecretNamesBothKeys(t *testing.T) {
	t.Parallel()
	cfg := Default()
	cfg.API.Tokens = []Token{
		{Name: "a", Role: "admin", Token: Secret{Value: tokenA}},
		{Name: "b", Role: "analyst", Token: Secret{Value: tokenB}},
		{Name: "c", Role: "reader", Token: Secret{Value: tokenA}},
	}
	err := cfg.Validate()
	want := "api.tokens[2].token: the same secret as api.tokens[0].token"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
	if err != nil && strings.Count(err.Error(), "same secret") != 1 {
		t.Errorf("want one problem for one shared secret, got %v", err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true,
		"::ffff:127.0.0.1": true, "10.0.0.1": false, "0.0.0.0": false, "::": false, "localhost.example": false, "": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
