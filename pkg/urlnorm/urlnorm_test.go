package urlnorm

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, domain, host string
		ip                           bool
	}{
		{"lowercase scheme and host", "HTTP://Example.COM/a/B", "http://example.com/a/B", "example.com", "example.com", false},
		{"default http port dropped", "http://example.com:80/x", "http://example.com/x", "example.com", "example.com", false},
		{"default https port dropped", "https://example.com:443/x", "https://example.com/x", "example.com", "example.com", false},
		{"other port kept", "http://example.com:8080/x", "http://example.com:8080/x", "example.com", "example.com", false},
		{"idn to punycode", "http://Bücher.example.nl/a", "http://xn--bcher-kva.example.nl/a", "example.nl", "xn--bcher-kva.example.nl", false},
		{"registrable domain under multi-label suffix", "http://img.foo.co.uk/1.jpg", "http://img.foo.co.uk/1.jpg", "foo.co.uk", "img.foo.co.uk", false},
		{"empty path becomes slash", "http://example.com", "http://example.com/", "example.com", "example.com", false},
		{"fragment dropped", "http://example.com/a#frag", "http://example.com/a", "example.com", "example.com", false},
		{"query kept", "http://example.com/a?b=1&a=2", "http://example.com/a?b=1&a=2", "example.com", "example.com", false},
		{"userinfo dropped", "http://user:pw@example.com/a", "http://example.com/a", "example.com", "example.com", false},
		{"trailing dot dropped", "http://example.com./a", "http://example.com/a", "example.com", "example.com", false},
		{"ipv4 literal", "http://192.0.2.1/a", "http://192.0.2.1/a", "", "192.0.2.1", true},
		{"ipv6 literal", "http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a", "", "2001:db8::1", true},
		{"ipv6 literal default port", "https://[2001:db8:0::1]:443/", "https://[2001:db8::1]/", "", "2001:db8::1", true},
		{"mapped ipv4 unmapped", "http://[::ffff:192.0.2.1]/", "http://192.0.2.1/", "", "192.0.2.1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if u.String != tc.want {
				t.Errorf("String = %q, want %q", u.String, tc.want)
			}
			if u.Domain != tc.domain {
				t.Errorf("Domain = %q, want %q", u.Domain, tc.domain)
			}
			if u.Host != tc.host {
				t.Errorf("Host = %q, want %q", u.Host, tc.host)
			}
			if u.IsIP() != tc.ip {
				t.Errorf("IsIP = %v, want %v", u.IsIP(), tc.ip)
			}
		})
	}
}

func TestSameKeyForEquivalentURLs(t *testing.T) {
	t.Parallel()
	a, err := Parse("HTTP://BÜCHER.example.nl:80/x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("http://xn--bcher-kva.example.nl/x")
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != b.Key() {
		t.Errorf("keys differ: %s (%s) vs %s (%s)", a.Key(), a.String, b.Key(), b.String)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"ftp":      "ftp://example.com/a",
		"relative": "/a/b",
		"no host":  "http:///a",
		"bad idn":  "http://a\u00a0b.example/",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if u, err := Parse(in); err == nil {
				t.Errorf("Parse(%q) = %q, want error", in, u.String)
			}
		})
	}
}

func TestNotActionable(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, wantSub string }{
		{"http://abcdefghijklmnop.onion/x", "onion"},
		{"http://site.i2p/x", "i2p"},
		{"http://printer.local/x", "reserved"},
		{"http://intranet/x", "single-label"},
		{"http://10.1.2.3/x", "not a public address"},
		{"http://[::1]/x", "not a public address"},
		{"http://example.nl/x", ""},
		{"http://203.0.113.9/x", ""},
	}
	for _, tc := range tests {
		u, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		got := u.NotActionable()
		if (tc.wantSub == "") != (got == "") || !strings.Contains(got, tc.wantSub) {
			t.Errorf("NotActionable(%q) = %q, want containing %q", tc.in, got, tc.wantSub)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"http://example.com/", "https://Bücher.de:443/a?b#c", "http://[::1]:80/", "http://1.2.3.4/x", "http://a..b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		// Normalising a canonical URL must give the same URL back.
		again, err := Parse(u.String)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", u.String, s, err)
		}
		if again.String != u.String {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, u.String, again.String)
		}
	})
}
