package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Country rules for Enrich.CountryRule.
const (
	CountryGeoIPFirst = "geoip_first"
	CountryRDAPFirst  = "rdap_first"
	CountryAgree      = "agree"
)

// Enrich configures enrichment: DNS, RDAP, GeoIP, CDN detection and the
// hosting-country rule.
type Enrich struct {
	// Enabled runs the enrich stage in this process. A replica that only
	// serves the API, or a test about other stages, turns it off.
	Enabled bool `yaml:"enabled"`
	// Workers is how many cases are enriched at once per replica. Most
	// of a worker's time is waiting: for DNS, and in a burst for a cold
	// network's RDAP answer behind a registry's rate limit. More workers
	// let the cases of known networks pass those that wait (in a
	// 20,000-report burst over 4,000 cold networks, 128 finished
	// enrichment at 11 minutes where 32 took 15).
	Workers int `yaml:"workers"`
	// MaxParked is how many cases at most, per replica, wait for their
	// network's RDAP answer without holding a worker ("parked"): the
	// lookup runs in the background, the worker serves the next case,
	// and the case comes back once its network is known. In a burst over
	// thousands of cold networks this lets the cases of the networks
	// already known pass those still queued at a registry's rate limit,
	// instead of every worker waiting and the cores idle. Each parked case
	// costs a progress signal every third of ack_wait. 0 turns it off.
	MaxParked int `yaml:"max_parked"`
	// EscalationWorkers is how many cases at once get the levels above
	// their hoster looked up (registrar, parent network, AS) after the
	// first notice went, per replica. Those lookups wait for the
	// registrars' rate limits, so a few workers keep them busy.
	EscalationWorkers int `yaml:"escalation_workers"`
	// AckWait is how long a case may be in hand without a sign of life
	// before JetStream hands it to another replica. Progress is signalled
	// while a case is enriched (RDAP rate limits may make that long), so
	// this is how long the work of a replica that died waits.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAttempts bounds retries after DNS or RDAP failures; after the last
	// one the case goes to review (DNS) or is enriched with what is known
	// (RDAP), the gap recorded as a problem.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before attempt 2, 3, …; the last entry repeats.
	Backoff []time.Duration `yaml:"backoff"`
	// UnresolvableRetry is when a host that did not resolve is tried again,
	// counted from each failed try; after the last, UnresolvableEvery
	// takes over. Empty: straight to UnresolvableEvery.
	UnresolvableRetry []time.Duration `yaml:"unresolvable_retry"`
	// UnresolvableEvery is how often a host that still does not resolve is
	// tried again after the quick retries, for as long as its case is
	// open (the name may come back, with the material on it). The retry is
	// the case's one schedule in TAKEDOWN_CHECKS, run by the re-checks of
	// any replica, so it costs nothing while it waits. 0: never.
	UnresolvableEvery time.Duration `yaml:"unresolvable_every"`
	// MaxAddresses bounds the addresses of one host that are looked up.
	MaxAddresses int `yaml:"max_addresses"`
	// CountryRule decides the hosting country: geoip_first, rdap_first or
	// agree (both must name the same country, else none is decided).
	CountryRule string `yaml:"country_rule"`

	DNS   EnrichDNS   `yaml:"dns"`
	RDAP  EnrichRDAP  `yaml:"rdap"`
	GeoIP EnrichGeoIP `yaml:"geoip"`
	CDN   EnrichCDN   `yaml:"cdn"`
	// Contacts is the hotline's own contact book, which wins over RDAP.
	Contacts EnrichContacts `yaml:"contacts"`
}

// EnrichDNS configures the resolver.
type EnrichDNS struct {
	// Servers are host:port resolvers asked in order; empty means those of
	// ResolvConf.
	Servers    []string      `yaml:"servers"`
	ResolvConf string        `yaml:"resolv_conf"`
	Timeout    time.Duration `yaml:"timeout"`
	// CacheSize is the number of hosts whose answers are kept. Both
	// enrichment and every re-check resolve through this cache: smaller
	// than the hosts of the open cases, it evicts a host before its next
	// probe and every probe asks DNS again (at 20,000 hosts and the old
	// 10,000, DNS took 9 % of the daemon's CPU in a million-report burst).
	// An entry is a few hundred bytes.
	CacheSize   int           `yaml:"cache_size"`
	MinTTL      time.Duration `yaml:"min_ttl"`
	MaxTTL      time.Duration `yaml:"max_ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
}

// EnrichRDAP configures RDAP lookups and their shared cache.
type EnrichRDAP struct {
	// BootstrapURL is where fresh IANA bootstrap files come from; empty
	// keeps the files embedded in the binary.
	BootstrapURL     string        `yaml:"bootstrap_url"`
	BootstrapRefresh time.Duration `yaml:"bootstrap_refresh"`
	// TLDServers maps a TLD the bootstrap lacks to an RDAP base URL.
	TLDServers map[string]string `yaml:"tld_servers"`
	// Overrides maps a registry's base URL (or host) to a mirror; the key
	// "*" sends every server no other key names to one mirror or proxy.
	Overrides map[string]string `yaml:"overrides"`
	// Limits is the query budget per server host, as the registries
	// publish them (LACNIC allows 10 queries a minute); a host not named
	// here gets DefaultLimit.
	Limits         map[string]RDAPLimit `yaml:"limits"`
	DefaultLimit   RDAPLimit            `yaml:"default_limit"`
	LookupTimeout  time.Duration        `yaml:"lookup_timeout"`
	AttemptTimeout time.Duration        `yaml:"attempt_timeout"`
	MaxAttempts    int                  `yaml:"max_attempts"`
	// CacheTTL is how long answers stay in the shared KV bucket CacheBucket.
	CacheTTL    time.Duration `yaml:"cache_ttl"`
	CacheBucket string        `yaml:"cache_bucket"`
	// NegativeTTL is how long a "no such object" answer (404: a domain
	// not registered, an AS number a mirror does not serve) is kept, so
	// it is not asked again for every case; shorter than CacheTTL, so a
	// registration made today is found today.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// LimitBucket is the KV bucket that holds each server's query budget
	// and Retry-After, shared by every replica: a server's limit is the
	// server's, not each replica's.
	LimitBucket string `yaml:"limit_bucket"`
	UserAgent   string `yaml:"user_agent"`
}

// RDAPLimit is a query budget for one RDAP server.
type RDAPLimit struct {
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
}

// EnrichGeoIP names the MaxMind databases; empty paths turn GeoIP off.
type EnrichGeoIP struct {
	CountryPath    string        `yaml:"country_path"`
	ASNPath        string        `yaml:"asn_path"`
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// DefaultContactsPath is where the contact book is looked for when the
// configuration names no other file.
const DefaultContactsPath = "config/contacts.yaml"

// EnrichContacts names the hotline's contact book.
type EnrichContacts struct {
	// Path is the contact book (shaped like config/contacts.yaml): abuse
	// addresses per domain, network or AS that go before RDAP's. A
	// missing file at the default path is no book; a missing file at any
	// other path is an error. Empty: no book.
	Path string `yaml:"path"`
}

// EnrichCDN names an operator's CDN list (shaped like config/cdn.yaml).
type EnrichCDN struct {
	Path string `yaml:"path"`
	Mode string `yaml:"mode"` // extend or replace
}

func defaultEnrich() Enrich {
	return Enrich{
		Enabled:           true,
		Workers:           128,
		MaxParked:         20_000,
		EscalationWorkers: 16,
		AckWait:           20 * time.Second,
		MaxAttempts:       8,
		Backoff:           []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		UnresolvableRetry: []time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour},
		UnresolvableEvery: 24 * time.Hour,
		MaxAddresses:      8,
		CountryRule:       CountryGeoIPFirst,
		DNS: EnrichDNS{
			ResolvConf: "/etc/resolv.conf", Timeout: 2 * time.Second, CacheSize: 100_000,
			MinTTL: 30 * time.Second, MaxTTL: time.Hour, NegativeTTL: 5 * time.Minute,
		},
		RDAP: EnrichRDAP{
			BootstrapURL:     "https://data.iana.org/rdap/",
			BootstrapRefresh: 24 * time.Hour,
			// Keep in step with rdap.DefaultLimits (an app test checks).
			Limits: map[string]RDAPLimit{
				"rdap.lacnic.net":  {PerMinute: 10, Burst: 2},
				"rdap.db.ripe.net": {PerMinute: 300, Burst: 10},
			},
			DefaultLimit:   RDAPLimit{PerMinute: 60, Burst: 5},
			LookupTimeout:  time.Minute,
			AttemptTimeout: 15 * time.Second,
			MaxAttempts:    4,
			CacheTTL:       12 * time.Hour,
			CacheBucket:    "takedown_rdap",
			NegativeTTL:    time.Hour,
			LimitBucket:    "takedown_rdap_limits",
			UserAgent:      "takedownd",
		},
		GeoIP:    EnrichGeoIP{ReloadInterval: time.Minute},
		CDN:      EnrichCDN{Mode: "extend"},
		Contacts: EnrichContacts{Path: DefaultContactsPath},
	}
}

func (x Enrich) validate(c *checker) {
	// The prober resolves through the same resolver: its keys count even
	// with enrichment off.
	x.DNS.validate(c)
	// Re-checks run the slow retry in every replica, enriching or not.
	if x.UnresolvableEvery != 0 && x.UnresolvableEvery < time.Minute {
		c.add("enrich.unresolvable_every", "must be at least 1m (or 0 for never), got %s", x.UnresolvableEvery)
	}
	if !x.Enabled {
		return
	}
	c.positive("enrich.workers", x.Workers)
	c.positive("enrich.escalation_workers", x.EscalationWorkers)
	if x.MaxParked < 0 {
		c.add("enrich.max_parked", "must be 0 (off) or more, got %d", x.MaxParked)
	}
	if x.AckWait < time.Second {
		c.add("enrich.ack_wait", "must be at least 1s, got %s", x.AckWait)
	}
	c.positive("enrich.max_attempts", x.MaxAttempts)
	if len(x.Backoff) == 0 {
		c.add("enrich.backoff", "must list at least one wait")
	}
	durations(c, "enrich.backoff", x.Backoff)
	durations(c, "enrich.unresolvable_retry", x.UnresolvableRetry)
	c.positive("enrich.max_addresses", x.MaxAddresses)
	c.oneOf("enrich.country_rule", x.CountryRule, CountryGeoIPFirst, CountryRDAPFirst, CountryAgree)
	r := x.RDAP
	if r.BootstrapURL != "" {
		baseURL(c, "enrich.rdap.bootstrap_url", r.BootstrapURL)
		if r.BootstrapRefresh <= 0 {
			c.add("enrich.rdap.bootstrap_refresh", "must be positive (or bootstrap_url empty)")
		}
	}
	if r.LookupTimeout <= 0 {
		c.add("enrich.rdap.lookup_timeout", "must be positive")
	}
	if r.AttemptTimeout <= 0 {
		c.add("enrich.rdap.attempt_timeout", "must be positive")
	}
	c.positive("enrich.rdap.max_attempts", r.MaxAttempts)
	if r.UserAgent == "" {
		c.add("enrich.rdap.user_agent", "must be set")
	}
	for tld, u := range r.TLDServers {
		baseURL(c, "enrich.rdap.tld_servers."+tld, u)
	}
	for from, u := range r.Overrides {
		baseURL(c, "enrich.rdap.overrides."+from, u)
	}
	for host, l := range r.Limits {
		if l.PerMinute <= 0 || l.Burst <= 0 {
			c.add("enrich.rdap.limits."+host, "per_minute and burst must be positive")
		}
	}
	if r.DefaultLimit.PerMinute <= 0 || r.DefaultLimit.Burst <= 0 {
		c.add("enrich.rdap.default_limit", "per_minute and burst must be positive")
	}
	if r.CacheTTL <= 0 {
		c.add("enrich.rdap.cache_ttl", "must be positive")
	}
	if r.CacheBucket == "" || strings.ContainsAny(r.CacheBucket, " .*>") {
		c.add("enrich.rdap.cache_bucket", "%q is not a bucket name", r.CacheBucket)
	}
	if r.NegativeTTL <= 0 || r.NegativeTTL > r.CacheTTL {
		c.add("enrich.rdap.negative_ttl", "must be positive and at most cache_ttl (%s), got %s", r.CacheTTL, r.NegativeTTL)
	}
	if r.LimitBucket == "" || strings.ContainsAny(r.LimitBucket, " .*>") {
		c.add("enrich.rdap.limit_bucket", "%q is not a bucket name", r.LimitBucket)
	} else if r.LimitBucket == r.CacheBucket {
		c.add("enrich.rdap.limit_bucket", "must differ from cache_bucket: the budgets need reads from the stream leader, the cache does not")
	}
	if x.GeoIP.ReloadInterval <= 0 {
		c.add("enrich.geoip.reload_interval", "must be positive")
	}
	c.oneOf("enrich.cdn.mode", x.CDN.Mode, "extend", "replace")
}

func (d EnrichDNS) validate(c *checker) {
	for i, s := range d.Servers {
		if strings.Contains(s, ":") {
			c.hostPort(fmt.Sprintf("enrich.dns.servers[%d]", i), s, true)
		}
	}
	if len(d.Servers) == 0 && d.ResolvConf == "" {
		c.add("enrich.dns", "servers or resolv_conf must be set")
	}
	for key, v := range map[string]time.Duration{"timeout": d.Timeout, "min_ttl": d.MinTTL, "max_ttl": d.MaxTTL, "negative_ttl": d.NegativeTTL} {
		if v <= 0 {
			c.add("enrich.dns."+key, "must be positive")
		}
	}
	if d.MaxTTL < d.MinTTL {
		c.add("enrich.dns.max_ttl", "must be at least min_ttl (%s)", d.MinTTL)
	}
	c.positive("enrich.dns.cache_size", d.CacheSize)
}

func durations(c *checker, key string, ds []time.Duration) {
	for i, d := range ds {
		if d <= 0 {
			c.add(fmt.Sprintf("%s[%d]", key, i), "must be positive")
		}
	}
}

func baseURL(c *checker, key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		c.add(key, "%q is not an http(s) base URL", v)
	}
}
