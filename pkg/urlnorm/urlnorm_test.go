package urlnorm

import (
	"net/url"
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
		{"query encoded as a browser sends it", "http://example.com/a?q=a b&c=\"ü\"&%41", "http://example.com/a?q=a%20b&c=%22%C3%BC%22&%41", "example.com", "example.com", false},
		{"userinfo dropped", "http://user:pw@example.com/a", "http://example.com/a", "example.com", "example.com", false},
		{"trailing dot dropped", "http://example.com./a", "http://example.com/a", "example.com", "example.com", false},
		{"ipv4 literal", "http://192.0.2.1/a", "http://192.0.2.1/a", "", "192.0.2.1", true},
		{"ipv6 literal", "http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a", "", "2001:db8::1", true},
		{"ipv6 literal default port", "https://[2001:db8:0::1]:443/", "https://[2001:db8::1]/", "", "2001:db8::1", true},
		{"mapped ipv4 unmapped", "http://[::ffff:192.0.2.1]/", "http://192.0.2.1/", "", "192.0.2.1", true},
		{"ipv6 zone dropped", "http://[fe80::1%25eth0]/", "http://[fe80::1]/", "", "fe80::1", true},
		{"port leading zeros", "http://example.com:08080/", "http://example.com:8080/", "example.com", "example.com", false},
		{"default port with leading zeros dropped", "http://example.com:0080/", "http://example.com/", "example.com", "example.com", false},
		{"empty port dropped", "http://example.com:/a", "http://example.com/a", "example.com", "example.com", false},
		{"ipv4 shorthand", "http://127.1/", "http://127.0.0.1/", "", "127.0.0.1", true},
		{"ipv4 as one number", "http://2130706433/", "http://127.0.0.1/", "", "127.0.0.1", true},
		{"ipv4 in hex", "http://0x7f.0x0.0x0.0x1/", "http://127.0.0.1/", "", "127.0.0.1", true},
		{"ipv4 in octal", "http://0300.0250.01.01/", "http://192.168.1.1/", "", "192.168.1.1", true},
		{"ipv4 with trailing dot", "http://192.0.2.1./", "http://192.0.2.1/", "", "192.0.2.1", true},
		{"numeric label not last is a name", "http://1.2.3.example/", "http://1.2.3.example/", "3.example", "1.2.3.example", false},
		{"label of 63", "http://" + strings.Repeat("a", 63) + ".example/", "http://" + strings.Repeat("a", 63) + ".example/", strings.Repeat("a", 63) + ".example", strings.Repeat("a", 63) + ".example", false},
		{"percent-encoded idn", "http://%C3%BC.example.nl/", "http://xn--tda.example.nl/", "example.nl", "xn--tda.example.nl", false},
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
	long := strings.Repeat("a", 60) + "."
	tests := []struct{ name, in, want string }{
		{"ftp", "ftp://example.com/a", "not http or https"},
		{"relative", "/a/b", "not http or https"},
		{"opaque", "http:example.com/a", "not hierarchical"},
		{"no host", "http:///a", "no host"},
		{"bad idn", "http://a\u00a0b.example/", "not a valid host name"},
		{"host of two dots", "http://../", "not a valid host name"},
		{"host of one dot", "http://./", "not a valid host name"},
		{"host of many dots", "http://...../", "not a valid host name"},
		{"empty label inside", "http://a..b.example/", "not a valid host name"},
		{"empty first label", "http://.example.com/", "not a valid host name"},
		{"two trailing dots", "http://example.com../", "not a valid host name"},
		{"label of 64", "http://" + strings.Repeat("a", 64) + ".example/", "not a valid host name"},
		{"host over 253", "http://" + strings.Repeat(long, 5) + "example/", "not a valid host name"},
		{"bad punycode", "http://xn--a.example/", "not a valid host name"},
		{"punycode of a disallowed rune", "http://xn--ab-qa.com/", "not a valid host name"},
		{"C1 control in host", "http://a\u0085b.com/", "not a valid host name"},
		{"hyphen at label start", "http://-a.example/", "not a valid host name"},
		{"bidi rule broken", "http://a\u05d0.example/", "not a valid host name"},
		{"port 0", "http://example.com:0/", "port 0 is outside 1-65535"},
		{"port 65536", "http://example.com:65536/", "port 65536 is outside 1-65535"},
		{"port 99999", "http://example.com:99999/", "port 99999 is outside 1-65535"},
		{"ipv4 part over 255", "http://1.2.3.256/", "not an IPv4 address"},
		{"ipv4 with five parts", "http://1.2.3.4.5/", "not an IPv4 address"},
		{"ipv4 number over 32 bits", "http://4294967296/", "not an IPv4 address"},
		{"ipv4 bad octal", "http://09.1.1.1/", "not an IPv4 address"},
		{"name ending in a number", "http://example.123/", "not an IPv4 address"},
		{"ipv6 without brackets", "http://::1/", "invalid port"},
		{"ipv4 in brackets", "http://[192.0.2.1]/", "invalid IP-literal"},
		{"ipv6 with an interface zone but no brackets", "http://fe80::1%25eth0/", "parse url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tc.in, u.String)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q): %v, want it to contain %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestParseIsIdempotent: every canonical form of TestParse parses back to
// itself.
func TestParseIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"HTTP://Bücher.example.nl:80/a?b", "http://[::ffff:192.0.2.1]:8080/", "http://0x7f.1:0443/x", "https://example.com./a%20b"} {
		u, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		again, err := Parse(u.String)
		if err != nil || again != u {
			t.Errorf("Parse(%q) = %+v, Parse of that = %+v (%v)", in, u, again, err)
		}
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
		{"http://100.64.0.1/x", "address 100.64.0.1 is shared-cgnat space"},
		{"http://203.0.113.9/x", "documentation space"},
		{"http://169.254.169.254/x", "link-local space"},
		{"http://[64:ff9b::a00:1]/x", "embeds private space"},
		{"http://2130706433/x", "loopback space"},
		{"http://example.nl/x", ""},
		{"http://185.0.1.10/x", ""},
		{"http://[2a00:1450::1]/x", ""},
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
	for _, s := range []string{"http://example.com/", "https://Bücher.de:443/a?b#c", "http://[::1]:80/", "http://1.2.3.4/x", "http://a..b/",
		"http://0x7f.1:080/", "http://[fe80::1%25x]/", "http://xn--bcher-kva.example./?q"} {
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
		if again != u {
			t.Fatalf("not idempotent: %q -> %+v -> %+v", s, u, again)
		}
		if strings.ContainsFunc(u.String, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("canonical %q of %q is not printable ASCII", u.String, s)
		}
		if p, err := url.Parse(u.String); err != nil || p.User != nil || p.Hostname() != u.Host {
			t.Fatalf("canonical %q of %q: url.Parse gives %+v, %v", u.String, s, p, err)
		}
		_ = u.NotActionable()
	})
}
