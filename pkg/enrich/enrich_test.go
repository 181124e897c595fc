package enrich

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/cdn"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// defaultDetector recognises the CDNs of the shipped list.
func defaultDetector(tb testing.TB) *cdn.Detector {
	tb.Helper()
	providers, err := cdn.Default()
	if err != nil {
		tb.Fatal(err)
	}
	det, err := cdn.NewDetector(providers)
	if err != nil {
		tb.Fatal(err)
	}
	return det
}

// fakeResolver answers from a table; a host not in it fails the test.
type fakeResolver struct {
	t       *testing.T
	answers map[string]dns.Answer
	errs    map[string]error
}

func (f fakeResolver) Resolve(_ context.Context, host string) (dns.Answer, error) {
	if err, ok := f.errs[host]; ok {
		return f.answers[host], err
	}
	a, ok := f.answers[host]
	if !ok {
		f.t.Errorf("unexpected dns lookup of %s", host)
		return a, dns.ErrNXDomain
	}
	return a, nil
}

type fakeRegistry struct {
	nets    map[netip.Addr]*rdap.Network
	netErrs map[netip.Addr]error
	domains map[string]*rdap.Domain
}

func (f fakeRegistry) LookupIP(_ context.Context, a netip.Addr) (*rdap.Network, error) {
	if err := f.netErrs[a]; err != nil {
		return nil, err
	}
	if n := f.nets[a]; n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("rdap lookup ip: %w", rdap.ErrNotFound)
}

func (f fakeRegistry) LookupDomain(_ context.Context, name string) (*rdap.Domain, error) {
	if d := f.domains[name]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("rdap lookup domain: %w", rdap.ErrNotFound)
}

type fakeLocator map[netip.Addr]geoip.Info

func (f fakeLocator) Lookup(a netip.Addr) (geoip.Info, error) { return f[a], nil }

var (
	hosterIP = netip.MustParseAddr("192.0.2.10")
	cfIP     = netip.MustParseAddr("198.51.100.7")
	googIP   = netip.MustParseAddr("203.0.113.9")
)

func testRegistry() fakeRegistry {
	rateLimited := &rdap.Error{Server: "rdap.lacnic.net", Status: 429, Retryable: true, Err: errors.New("too many requests")}
	return fakeRegistry{
		nets: map[netip.Addr]*rdap.Network{
			hosterIP: {Handle: "HOSTER-NET", Name: "Hoster", Country: "nl", Start: "192.0.2.0", End: "192.0.2.255", Server: "rdap.db.ripe.net",
				Contacts: []rdap.Contact{
					{Email: "abuse@hoster.example", Handle: "AB1-RIPE", Object: "HOSTER-NET", Path: []string{"abuse"}, Server: "rdap.db.ripe.net", Kind: rdap.KindEntity, Pref: 1},
					{Email: "noc@hoster.example", Object: "HOSTER-NET", Server: "rdap.db.ripe.net", Kind: rdap.KindRemarks},
				}},
			cfIP:   {Handle: "CLOUDFLARENET", Country: "US", Server: "rdap.arin.net", Contacts: []rdap.Contact{{Email: "abuse@cloudflare.com", Object: "CLOUDFLARENET", Server: "rdap.arin.net", Kind: rdap.KindEntity}}},
			googIP: {Handle: "GOOGLE-CLOUD", Country: "US", Server: "rdap.arin.net", Contacts: []rdap.Contact{{Email: "google-cloud-compliance@google.com", Object: "GOOGLE-CLOUD", Server: "rdap.arin.net", Kind: rdap.KindEntity}}},
		},
		netErrs: map[netip.Addr]error{netip.MustParseAddr("200.57.141.161"): fmt.Errorf("rdap lookup ip: %w", rateLimited)},
		domains: map[string]*rdap.Domain{
			"site.example": {Name: "site.example", Handle: "D1", Server: "rdap.registry.example",
				Contacts: []rdap.Contact{{Email: "owner@site.example", Object: "D1", Path: []string{"registrant", "abuse"}, Server: "rdap.registry.example", Kind: rdap.KindEntity}},
				Registrar: &rdap.Registrar{Name: "Registrar Ltd", IANAID: "1234", Handle: "1234", Server: "rdap.registrar.example",
					Contacts: []rdap.Contact{
						{Email: "abuse@registrar.example", Object: "D1", Path: []string{"registrar", "abuse"}, Server: "rdap.registrar.example", Kind: rdap.KindEntity},
						{Email: "legal@registrar.example", Object: "D1", Path: []string{"registrar", "abuse"}, Server: "rdap.registry.example", Kind: rdap.KindEntity},
					}}},
		},
	}
}

func newTestEnricher(t *testing.T, rule string) *Enricher {
	t.Helper()
	det := defaultDetector(t)
	res := fakeResolver{t: t,
		answers: map[string]dns.Answer{
			"www.site.example":  {Addrs: []netip.Addr{hosterIP}},
			"img.site.example":  {CNAMEs: []string{"img.site.example.cdn.cloudflare.net"}, Addrs: []netip.Addr{cfIP}},
			"app.site.example":  {Addrs: []netip.Addr{googIP}},
			"slow.site.example": {Addrs: []netip.Addr{netip.MustParseAddr("200.57.141.161")}},
			"many.site.example": {Addrs: []netip.Addr{hosterIP, hosterIP.Next(), hosterIP.Next().Next()}},
		},
		errs: map[string]error{
			"gone.site.example":  fmt.Errorf("resolve: %w", dns.ErrNXDomain),
			"flaky.example":      fmt.Errorf("resolve: %w", dns.ErrTemporary),
			"alias.site.example": fmt.Errorf("resolve: %w", dns.ErrNXDomain),
		},
	}
	res.answers["alias.site.example"] = dns.Answer{CNAMEs: []string{"dangling.site.example"}}
	e, err := New(Options{
		Resolver: res, Registry: testRegistry(), CDN: det, CountryRule: rule, MaxAddresses: 2,
		Locator: fakeLocator{
			hosterIP: {Country: "NL", ASN: 64500, ASOrg: "Hoster B.V."},
			cfIP:     {Country: "US", ASN: 13335, ASOrg: "CLOUDFLARENET"},
			googIP:   {Country: "BE", ASN: 15169, ASOrg: "GOOGLE"},
		},
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func emails(cs []takedown.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Role + ":" + c.Email
	}
	return out
}

func TestEnrich(t *testing.T) {
	t.Parallel()
	e := newTestEnricher(t, RuleGeoIPFirst)
	tests := []struct {
		name     string
		url      string
		wantErr  error
		contacts []string // role:email in order
		check    func(t *testing.T, enr takedown.Enrichment)
	}{
		{
			name: "hoster, owner and registrar in order", url: "http://www.site.example/a.jpg",
			contacts: []string{"hoster:abuse@hoster.example", "hoster:noc@hoster.example", "owner:owner@site.example", "registrar:abuse@registrar.example", "registrar:legal@registrar.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				c := enr.Contacts[0].Source
				if c.Kind != SourceRDAPIP || c.Server != "rdap.db.ripe.net" || c.Handle != "HOSTER-NET" || !slices.Equal(c.Path, []string{"abuse"}) || c.Note != "entity AB1-RIPE, found as entity, preferred" {
					t.Errorf("hoster source = %+v", c)
				}
				if k := enr.Contacts[3].Source.Kind; k != SourceRDAPRegistrar {
					t.Errorf("registrar server's contact kind %s", k)
				}
				if k := enr.Contacts[4].Source.Kind; k != SourceRDAPDomain {
					t.Errorf("registry's registrar contact kind %s", k)
				}
				r := enr.Registrar
				if r == nil || r.Name != "Registrar Ltd" || r.Abuse == nil || r.Abuse.Email != "abuse@registrar.example" || r.Source.Server != "rdap.registrar.example" {
					t.Errorf("registrar = %+v", r)
				}
				if len(enr.Networks) != 1 || enr.Networks[0].Country != "NL" || enr.Addresses[0].Network != "HOSTER-NET" || enr.Addresses[0].ASN != 64500 {
					t.Errorf("networks %+v addresses %+v", enr.Networks, enr.Addresses)
				}
				if enr.CDN != nil || enr.Country.Country != "NL" || len(enr.Problems) != 0 || !enr.At.Equal(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) {
					t.Errorf("cdn %+v country %+v problems %v at %v", enr.CDN, enr.Country, enr.Problems, enr.At)
				}
			},
		},
		{
			name: "cloudflare by cname: cdn first, origin unknown", url: "https://img.site.example/b.jpg",
			contacts: []string{"cdn:abuse@cloudflare.com", "owner:owner@site.example", "registrar:abuse@registrar.example", "registrar:legal@registrar.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				if enr.CDN == nil || enr.CDN.Name != "Cloudflare" || enr.CDN.MatchedBy != "cname:img.site.example.cdn.cloudflare.net" || !enr.CDN.OriginUnknown {
					t.Errorf("cdn = %+v", enr.CDN)
				}
				if enr.Contacts[0].Source.Kind != SourceCDNList || !strings.Contains(enr.Country.Note, "origin's country is unknown") {
					t.Errorf("first contact %+v, country %+v", enr.Contacts[0], enr.Country)
				}
			},
		},
		{
			name: "a mixed cloud asn is no cdn: the network's own contact is the hoster", url: "http://app.site.example/c",
			contacts: []string{"hoster:google-cloud-compliance@google.com", "owner:owner@site.example", "registrar:abuse@registrar.example", "registrar:legal@registrar.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				if enr.CDN != nil {
					t.Errorf("cdn = %+v, want none on Google's mixed AS15169", enr.CDN)
				}
			},
		},
		{
			name: "ip literal needs no dns", url: "http://192.0.2.10/x",
			contacts: []string{"hoster:abuse@hoster.example", "hoster:noc@hoster.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				if !enr.IPLiteral || enr.Registrar != nil {
					t.Errorf("ip literal %v registrar %+v", enr.IPLiteral, enr.Registrar)
				}
			},
		},
		{
			name: "nxdomain keeps the cname chain", url: "http://alias.site.example/", wantErr: ErrUnresolvable,
			check: func(t *testing.T, enr takedown.Enrichment) {
				if !slices.Equal(enr.CNAMEs, []string{"dangling.site.example"}) || len(enr.Problems) != 1 {
					t.Errorf("cnames %v problems %v", enr.CNAMEs, enr.Problems)
				}
			},
		},
		{name: "servfail is temporary", url: "http://flaky.example/", wantErr: ErrTemporary},
		{
			name: "rdap rate limit leaves a usable, incomplete answer", url: "http://slow.site.example/", wantErr: ErrIncomplete,
			contacts: []string{"owner:owner@site.example", "registrar:abuse@registrar.example", "registrar:legal@registrar.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				if len(enr.Problems) != 1 || !strings.Contains(enr.Problems[0], "rdap ip 200.57.141.161") {
					t.Errorf("problems = %v", enr.Problems)
				}
			},
		},
		{
			name: "addresses beyond the bound are not looked up", url: "http://many.site.example/",
			contacts: []string{"hoster:abuse@hoster.example", "hoster:noc@hoster.example", "owner:owner@site.example", "registrar:abuse@registrar.example", "registrar:legal@registrar.example"},
			check: func(t *testing.T, enr takedown.Enrichment) {
				if len(enr.Addresses) != 2 || len(enr.Networks) != 1 {
					t.Errorf("%d addresses, %d networks; want 2 and 1", len(enr.Addresses), len(enr.Networks))
				}
				if !slices.ContainsFunc(enr.Problems, func(p string) bool { return strings.Contains(p, "looked up the first 2") }) ||
					!slices.ContainsFunc(enr.Problems, func(p string) bool { return p == "rdap ip 192.0.2.11: no rdap data" }) {
					t.Errorf("problems = %v", enr.Problems)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := urlnorm.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			enr, err := e.Enrich(t.Context(), u)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.contacts != nil && !slices.Equal(emails(enr.Contacts), tc.contacts) {
				t.Errorf("contacts = %v\nwant       %v", emails(enr.Contacts), tc.contacts)
			}
			if tc.check != nil {
				tc.check(t, enr)
			}
		})
	}
}

func TestDecideCountry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, rule, geo, rdap string
		want                  string
		disagree              bool
		note                  string
	}{
		{"geoip first, agreeing", RuleGeoIPFirst, "NL", "NL", "NL", false, ""},
		{"geoip first, disagreeing", RuleGeoIPFirst, "DE", "NL", "DE", true, "geoip says DE, rdap says NL"},
		{"geoip first falls back to rdap", RuleGeoIPFirst, "", "NL", "NL", false, ""},
		{"rdap first, disagreeing", RuleRDAPFirst, "DE", "NL", "NL", true, "geoip says DE, rdap says NL"},
		{"rdap first falls back to geoip", RuleRDAPFirst, "DE", "", "DE", false, ""},
		{"agree, agreeing", RuleAgree, "NL", "NL", "NL", false, ""},
		{"agree, disagreeing decides nothing", RuleAgree, "DE", "NL", "", true, "geoip says DE, rdap says NL: no country decided"},
		{"agree with one source decides nothing", RuleAgree, "", "NL", "", false, "agree rule: only one source names a country"},
		{"no source", RuleGeoIPFirst, "", "", "", false, "no source names a country"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addrs := []takedown.AddressInfo{{IP: "192.0.2.1"}, {IP: "192.0.2.2", Country: tc.geo}}
			nets := []takedown.Network{{Handle: "A"}, {Handle: "B", Country: tc.rdap}}
			d := decideCountry(tc.rule, addrs, nets)
			want := takedown.CountryDecision{Rule: tc.rule, GeoIP: tc.geo, RDAP: tc.rdap, Country: tc.want, Disagree: tc.disagree, Note: tc.note}
			if d != want {
				t.Errorf("decision = %+v\nwant       %+v", d, want)
			}
		})
	}
}
