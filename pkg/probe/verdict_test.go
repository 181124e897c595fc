package probe

import (
	"net/netip"
	"net/url"
	"testing"
)

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    int
		verdict Verdict
		reason  string
	}{
		{200, Online, ReasonOK}, {204, Online, ReasonOK}, {206, Online, ReasonOK},
		{404, Gone, ReasonHTTP404}, {410, Gone, ReasonHTTP410}, {451, Gone, ReasonHTTP451},
		{429, Inconclusive, ReasonHTTP429}, {403, Inconclusive, ReasonHTTP403},
		{401, Inconclusive, ReasonHTTP4xx}, {416, Inconclusive, ReasonHTTP4xx},
		{500, Inconclusive, ReasonHTTP5xx}, {502, Inconclusive, ReasonHTTP5xx}, {599, Inconclusive, ReasonHTTP5xx},
		{304, Inconclusive, ReasonHTTPOther}, {103, Inconclusive, ReasonHTTPOther},
	}
	for _, tt := range tests {
		v, r := classifyStatus(tt.code)
		if v != tt.verdict || r != tt.reason {
			t.Errorf("classifyStatus(%d) = %s/%s, want %s/%s", tt.code, v, r, tt.verdict, tt.reason)
		}
	}
}

func TestClassifyFinalURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		orig, final string
		reason      string
	}{
		{"other site root", "http://hoster.example/a.jpg", "https://other.example/", ReasonRedirectOffsite},
		{"other site empty path", "http://hoster.example/a.jpg", "https://other.example", ReasonRedirectOffsite},
		{"other site root with query", "http://hoster.example/a.jpg", "https://other.example/?r=1", ReasonRedirectOffsite},
		{"other site root from root", "http://hoster.example/", "https://other.example/", ReasonRedirectOffsite},
		{"public suffix apart", "http://a.blogspot.com/x", "http://b.blogspot.com/", ReasonRedirectOffsite},
		{"country suffix same site", "http://img.hoster.co.uk/x", "https://www.hoster.co.uk/", ReasonRedirectRoot},
		{"own root", "http://hoster.example/a.jpg", "http://hoster.example/", ReasonRedirectRoot},
		{"own root by case and dot", "http://hoster.example/a.jpg", "http://HOSTER.example./", ReasonRedirectRoot},
		{"own root from root", "http://hoster.example/", "https://www.hoster.example/", ""},
		{"other site page", "http://hoster.example/a.jpg", "https://other.example/a.jpg", ""},
		{"own page", "http://hoster.example/a.jpg", "https://cdn.hoster.example/a.jpg", ""},
		{"ip literal root", "http://192.0.2.1/a", "http://192.0.2.2/", ReasonRedirectOffsite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reason, ok := classifyFinalURL(mustURL(t, tt.orig), mustURL(t, tt.final))
			if reason != tt.reason || ok != (tt.reason != "") {
				t.Errorf("classifyFinalURL = %q %v, want %q", reason, ok, tt.reason)
			}
		})
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return u
}

// FuzzNextHop feeds redirect Locations as a hoster might send them: any
// followed hop must be an absolute http(s) URL with a host, and the
// classification of where it lands must be consistent.
func FuzzNextHop(f *testing.F) {
	for _, s := range []string{
		"/n", "http://other.example/", "//other.example", "ftp://x/", "https://[::1]:80/",
		"http://[::ffff:127.0.0.1]/", "http://a.b.c.co.uk./?x#y", "javascript:alert(1)",
		"http://%zz/", "\x00", "http://h:99999999/", "https://xn--n3h.example/",
	} {
		f.Add("http://hoster.example/a/b.jpg", s)
	}
	f.Fuzz(func(t *testing.T, base, loc string) {
		cur, err := url.Parse(base)
		if err != nil || (cur.Scheme != "http" && cur.Scheme != "https") || cur.Hostname() == "" {
			return
		}
		next, reason := nextHop(cur, loc, 0, 5)
		if reason != "" {
			if next != nil {
				t.Fatalf("refused hop %q with a URL", loc)
			}
			return
		}
		if (next.Scheme != "http" && next.Scheme != "https") || next.Hostname() == "" {
			t.Fatalf("followed hop %q to %q", loc, next)
		}
		if _, err := url.Parse(next.String()); err != nil {
			t.Fatalf("hop %q gave unparsable %q: %v", loc, next, err)
		}
		if r, ok := classifyFinalURL(cur, next); ok {
			sameSite := site(cur.Hostname()) == site(next.Hostname())
			if r == ReasonRedirectOffsite && sameSite || r == ReasonRedirectRoot && !sameSite || !isRoot(next) {
				t.Fatalf("classified %q -> %q as %s", cur, next, r)
			}
		}
		if _, reason := nextHop(cur, loc, 5, 5); reason != ReasonTooManyRedirects {
			t.Fatalf("hop past the bound not refused")
		}
	})
}

// FuzzCheckAddr checks that no spelling of an address changes the
// verdict: the IPv4-mapped, NAT64 and 6to4 forms are judged as the IPv4
// address they carry; and that nothing the standard library knows to be
// special passes.
func FuzzCheckAddr(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1})
	f.Add([]byte{169, 254, 169, 254})
	f.Add([]byte{8, 8, 8, 8})
	f.Add([]byte{100, 64, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var raw [16]byte
		copy(raw[:], b)
		v4 := netip.AddrFrom4([4]byte(raw[:4]))
		public := CheckAddr(v4) == nil
		nat64, sixToFour := [16]byte{0, 0x64, 0xff, 0x9b}, [16]byte{0x20, 0x02}
		copy(nat64[12:], raw[:4])
		copy(sixToFour[2:], raw[:4])
		for _, form := range []netip.Addr{netip.AddrFrom16(v4.As16()), netip.AddrFrom16(nat64), netip.AddrFrom16(sixToFour)} {
			if (CheckAddr(form) == nil) != public {
				t.Fatalf("%s and %s judged differently", v4, form)
			}
		}
		for _, a := range []netip.Addr{v4, netip.AddrFrom16(raw)} {
			if CheckAddr(a) == nil && (!a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsUnspecified()) {
				t.Fatalf("%s passed", a)
			}
		}
	})
}
