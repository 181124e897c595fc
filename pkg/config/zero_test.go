package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestExplicitZeroWins decodes a YAML that sets a key to zero where zero
// means something, and checks the zero is kept and valid: nothing between
// the file and the running daemon may put a default in its place.
func TestExplicitZeroWins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		get  func(Config) any
	}{
		{"recheck.probe.max_redirects follows none", "recheck: {probe: {max_redirects: 0}}", func(c Config) any { return c.Recheck.Probe.MaxRedirects }},
		{"notify.batch_window sends at once", "notify: {batch_window: 0s}", func(c Config) any { return c.Notify.BatchWindow }},
		{"recheck.refresh_hoster only on a new address", "recheck: {refresh_hoster: 0s}", func(c Config) any { return c.Recheck.RefreshHoster }},
		{"recheck.routes.hoster.reminders_per_level escalates every step", "recheck: {routes: {hoster: {reminders_per_level: 0}}}", func(c Config) any { return c.Recheck.Routes["hoster"].RemindersPerLevel }},
		{"recheck.routes.cdn.escalate none", "recheck: {routes: {cdn: {escalate: []}}}", func(c Config) any { return len(c.Recheck.Routes["cdn"].Escalate) }},
		{"enrich.unresolvable_retry never", "enrich: {unresolvable_retry: []}", func(c Config) any { return len(c.Enrich.UnresolvableRetry) }},
		{"enrich.unresolvable_every never", "enrich: {unresolvable_every: 0s}", func(c Config) any { return c.Enrich.UnresolvableEvery }},
		{"notify.plain_reply_to", "notify: {plain_reply_to: false}", func(c Config) any { return btoi(c.Notify.PlainReplyTo) }},
		{"enrich.enabled off", "enrich: {enabled: false}", func(c Config) any { return btoi(c.Enrich.Enabled) }},
		{"notify.send_window.high_priority_bypass off", "notify: {send_window: {high_priority_bypass: false}}", func(c Config) any { return btoi(c.Notify.SendWindow.HighBypass) }},
		{"nats.embedded.max_store server default", "nats: {embedded: {max_store: 0}}", func(c Config) any { return c.NATS.Embedded.MaxStore }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			if err := Decode([]byte(tt.yaml), &cfg); err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(tt.get(cfg)); !got.IsZero() {
				t.Errorf("%s: got %v, want the explicit zero", tt.yaml, got)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("%s does not validate: %v", tt.yaml, err)
			}
		})
	}
}

// TestMeaninglessZeroIsRefused covers the keys where a zero has no use and
// a consumer would once have put its own default in its place: they are
// refused at load, by key, instead.
func TestMeaninglessZeroIsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantKey string
	}{
		{"setup backoff", "nats: {setup_backoff: 0s}", "nats.setup_backoff"},
		{"intake backoff", "intake: {backoff: []}", "intake.backoff"},
		{"enrich backoff", "enrich: {backoff: []}", "enrich.backoff"},
		{"dns timeout", "enrich: {dns: {timeout: 0s}}", "enrich.dns.timeout"},
		{"dns cache size", "enrich: {dns: {cache_size: 0}}", "enrich.dns.cache_size"},
		{"dns min ttl", "enrich: {dns: {min_ttl: 0s}}", "enrich.dns.min_ttl"},
		{"dns max ttl", "enrich: {dns: {max_ttl: 0s}}", "enrich.dns.max_ttl"},
		{"dns max ttl below min", "enrich: {dns: {min_ttl: 2h}}", "enrich.dns.max_ttl"},
		{"dns negative ttl", "enrich: {dns: {negative_ttl: 0s}}", "enrich.dns.negative_ttl"},
		{"dns checked with enrichment off (the prober uses it)", "enrich: {enabled: false, dns: {timeout: 0s}}", "enrich.dns.timeout"},
		{"rdap bootstrap refresh", "enrich: {rdap: {bootstrap_refresh: 0s}}", "enrich.rdap.bootstrap_refresh"},
		{"rdap lookup timeout", "enrich: {rdap: {lookup_timeout: 0s}}", "enrich.rdap.lookup_timeout"},
		{"rdap attempt timeout", "enrich: {rdap: {attempt_timeout: 0s}}", "enrich.rdap.attempt_timeout"},
		{"rdap max attempts", "enrich: {rdap: {max_attempts: 0}}", "enrich.rdap.max_attempts"},
		{"rdap user agent", "enrich: {rdap: {user_agent: \"\"}}", "enrich.rdap.user_agent"},
		{"rdap limit entry", "enrich: {rdap: {limits: {rdap.lacnic.net: {per_minute: 0}}}}", "enrich.rdap.limits.rdap.lacnic.net"},
		{"geoip reload interval", "enrich: {geoip: {reload_interval: 0s}}", "enrich.geoip.reload_interval"},
		{"smtp command timeout", "notify: {smtp: {host: 127.0.0.1, command_timeout: 0s}}", "notify.smtp.command_timeout"},
		{"smtp message timeout", "notify: {smtp: {host: 127.0.0.1, message_timeout: 0s}}", "notify.smtp.message_timeout"},
		{"authority deadline", "notify: {authority: {deadline: 0s}}", "notify.authority.deadline"},
		{"probe user agent", "recheck: {probe: {user_agent: \"\"}}", "recheck.probe.user_agent"},
		{"probe max body bytes", "recheck: {probe: {max_body_bytes: 0}}", "recheck.probe.max_body_bytes"},
		{"probe max redirects negative", "recheck: {probe: {max_redirects: -1}}", "recheck.probe.max_redirects"},
		{"route reminder interval", "recheck: {routes: {partner: {reminder_interval: 0s}}}", "recheck.routes.partner.reminder_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			if err := Decode([]byte(tt.yaml), &cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Errorf("%s: Validate() = %v, want a problem with %s", tt.yaml, err, tt.wantKey)
			}
		})
	}
}
