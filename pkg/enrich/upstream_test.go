package enrich

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// upstreamSim serves, at RIPE, a hoster network below a transit's parent
// network and one whose parent has the hoster's own address, AS numbers
// for both, and the domain up.com at Verisign.
func upstreamSim(t *testing.T) *rdapsim.Sim {
	t.Helper()
	sim, err := rdapsim.New(rdapsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ripe := sim.Server("ripe")
	nets := []rdapsim.Network{
		{Prefix: netip.MustParsePrefix("185.70.0.0/16"), Handle: "TRANSIT-NET", AbuseEmail: "abuse@transit.example"},
		{Prefix: netip.MustParsePrefix("185.70.1.0/24"), Handle: "HOSTER-NET", AbuseEmail: "abuse@hoster.example", Parent: netip.MustParsePrefix("185.70.0.0/16")},
		{Prefix: netip.MustParsePrefix("185.71.0.0/16"), Handle: "SELF-UP", AbuseEmail: "Abuse@Self.example"},
		{Prefix: netip.MustParsePrefix("185.71.2.0/24"), Handle: "SELF-NET", AbuseEmail: "abuse@self.example", Parent: netip.MustParsePrefix("185.71.0.0/16")},
		// Links to a parent the registry does not serve.
		{Prefix: netip.MustParsePrefix("185.72.1.0/24"), Handle: "ORPHAN-NET", AbuseEmail: "abuse@orphan.example", Parent: netip.MustParsePrefix("185.72.0.0/16")},
	}
	for _, n := range nets {
		if err := ripe.AddNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []rdapsim.Autnum{
		{ASN: 12400, Name: "TRANSIT", AbuseEmail: "noc@transit.example"},
		{ASN: 12401, Name: "SELF", AbuseEmail: "abuse@self.example"},
		{ASN: 12403, Name: "TRANSIT-AGAIN", AbuseEmail: "abuse@transit.example"},
	} {
		if err := ripe.AddAutnum(a); err != nil {
			t.Fatal(err)
		}
	}
	err = sim.Server("verisign").AddDomain(rdapsim.Domain{Name: "up.com", Registrar: "Registrar", IANAID: "9", AbuseEmail: "abuse@registrar.example"})
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

func TestEnrichUpstream(t *testing.T) {
	t.Parallel()
	hoster, self := netip.MustParseAddr("185.70.1.10"), netip.MustParseAddr("185.71.2.10")
	tests := []struct {
		name      string
		addr      netip.Addr
		asn       uint
		arinFault rdapsim.Fault
		contacts  []string // role:email in order
		problem   string   // a problem that must be listed ("" for none at all)
		check     func(t *testing.T, cs []takedown.Contact)
	}{
		{
			name: "parent network, then origin AS, between hoster and registrar", addr: hoster, asn: 12400,
			contacts: []string{"hoster:abuse@hoster.example", "upstream:abuse@transit.example", "upstream:noc@transit.example", "registrar:abuse@registrar.example"},
			check: func(t *testing.T, cs []takedown.Contact) {
				p, a := cs[1].Source, cs[2].Source
				if p.Kind != SourceRDAPIP || p.Server != "rdap.db.ripe.net" || p.Handle != "TRANSIT-NET" ||
					!slices.Equal(p.Path, []string{"parent", "registrant", "abuse"}) || !strings.HasPrefix(p.Note, "parent of HOSTER-NET; ") {
					t.Errorf("parent source = %+v", p)
				}
				if a.Kind != SourceRDAPAutnum || a.Server != "rdap.db.ripe.net" || a.Handle != "AS12400" || !slices.Equal(a.Path, []string{"registrant", "abuse"}) {
					t.Errorf("autnum source = %+v", a)
				}
			},
		},
		{
			name: "the AS's address is the parent's: listed once, from the parent", addr: hoster, asn: 12403,
			contacts: []string{"hoster:abuse@hoster.example", "upstream:abuse@transit.example", "registrar:abuse@registrar.example"},
		},
		{
			name: "parent and AS with the hoster's own address are no new level", addr: self, asn: 12401,
			contacts: []string{"hoster:abuse@self.example", "registrar:abuse@registrar.example"},
		},
		{
			name: "a parent the registry has no answer for is no problem", addr: netip.MustParseAddr("185.72.1.10"), asn: 12400,
			contacts: []string{"hoster:abuse@orphan.example", "upstream:noc@transit.example", "registrar:abuse@registrar.example"},
		},
		{
			name: "autnum 404 is a problem, not a failure", addr: hoster, asn: 12402,
			contacts: []string{"hoster:abuse@hoster.example", "upstream:abuse@transit.example", "registrar:abuse@registrar.example"},
			problem:  "rdap autnum AS12402: no rdap data",
		},
		{
			name: "autnum 429 until retries run out is a problem, not a failure", addr: hoster, asn: 1500,
			arinFault: rdapsim.Fault{Status: 429},
			contacts:  []string{"hoster:abuse@hoster.example", "upstream:abuse@transit.example", "registrar:abuse@registrar.example"},
			problem:   "rdap lookup autnum AS1500: rdap rdap.arin.net: status 429",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := upstreamSim(t)
			sim.Server("arin").SetFault(tc.arinFault)
			e := newSimEnricher(t, sim, tc.addr, tc.asn)
			u, err := urlnorm.Parse("http://www.up.com/a.jpg")
			if err != nil {
				t.Fatal(err)
			}
			enr, err := e.Enrich(t.Context(), u)
			if err != nil {
				t.Fatalf("err = %v, want none (problems %v)", err, enr.Problems)
			}
			if !slices.Equal(emails(enr.Contacts), tc.contacts) {
				t.Errorf("contacts = %v\nwant       %v", emails(enr.Contacts), tc.contacts)
			}
			switch {
			case tc.problem == "" && len(enr.Problems) > 0:
				t.Errorf("problems = %v, want none", enr.Problems)
			case tc.problem != "" && !slices.ContainsFunc(enr.Problems, func(p string) bool { return strings.HasPrefix(p, tc.problem) }):
				t.Errorf("problems = %v, want one starting %q", enr.Problems, tc.problem)
			}
			if tc.check != nil {
				tc.check(t, enr.Contacts)
			}
		})
	}
}

// newSimEnricher resolves www.up.com to addr, announced by asn, and asks
// the simulated registries with a real RDAP client.
func newSimEnricher(t *testing.T, sim *rdapsim.Sim, addr netip.Addr, asn uint) *Enricher {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	reg, err := rdap.New(rdap.Config{
		Overrides: sim.Overrides(), Limits: map[string]rdap.Limit{},
		DefaultLimit: rdap.Limit{PerMinute: 6e6, Burst: 1000},
		BackoffBase:  time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxAttempts: 2,
	}, log, time.Now, sim.HTTPClient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{
		Resolver: fakeResolver{t: t, answers: map[string]dns.Answer{"www.up.com": {Addrs: []netip.Addr{addr}}}},
		Registry: reg, CDN: defaultDetector(t), Log: log,
		Locator: fakeLocator{addr: {Country: "NL", ASN: asn}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOriginASNs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		geo  []geoip.Info
		want []uint32
	}{
		{"none known", []geoip.Info{{}, {Country: "NL"}}, nil},
		{"distinct in address order", []geoip.Info{{ASN: 8283}, {ASN: 13335}, {ASN: 8283}}, []uint32{8283, 13335}},
		{"beyond 32 bits is no AS", []geoip.Info{{ASN: 1 << 40}, {ASN: 7}}, []uint32{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := originASNs(tc.geo); !slices.Equal(got, tc.want) {
				t.Errorf("originASNs = %v, want %v", got, tc.want)
			}
		})
	}
}
