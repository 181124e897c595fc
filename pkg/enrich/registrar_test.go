package enrich

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// A .no domain's registrar (Norid) publishes its address only in its own
// vCard: escalation to the registrar must still have somebody to mail,
// and the case must say where the address came from.
func TestRegistrarFromItsOwnVCard(t *testing.T) {
	t.Parallel()
	sim, err := rdapsim.New(rdapsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	addr := netip.MustParseAddr("185.80.1.10")
	if err := sim.Server("ripe").AddNetwork(rdapsim.Network{Prefix: netip.MustParsePrefix("185.80.1.0/24"), Handle: "NO-HOSTER", Country: "NO", AbuseEmail: "abuse@hoster.example"}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	reg, err := rdap.New(rdap.Config{Overrides: sim.Overrides(), Limits: map[string]rdap.Limit{}, DefaultLimit: rdap.Limit{PerMinute: 6e6, Burst: 1000}}, log, time.Now, sim.HTTPClient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{
		Resolver: fakeResolver{t: t, answers: map[string]dns.Answer{"www.norway.no": {Addrs: []netip.Addr{addr}}}},
		Registry: reg, CDN: defaultDetector(t), Log: log, Locator: fakeLocator{addr: {Country: "NO", ASN: 64510}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := urlnorm.Parse("https://www.norway.no/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.Enrich(t.Context(), u)
	if err != nil {
		t.Fatalf("enrich: %v (problems %v)", err, enr.Problems)
	}
	r := enr.Registrar
	if r == nil || r.Name != "Domeneshop AS" || r.Abuse == nil {
		t.Fatalf("registrar = %+v, want Domeneshop AS with an address", r)
	}
	a := r.Abuse
	if a.Email != "kundeservice@domeneshop.no" || a.Role != RoleRegistrar || a.Source.Kind != SourceRDAPDomain ||
		a.Source.Server != "rdap.norid.no" || a.Source.Handle != "NOR34044D-NORID" || !slices.Equal(a.Source.Path, []string{"registrar"}) ||
		!strings.HasPrefix(a.Source.Note, "entity reg42-NORID, found as vcard (the registrar's own address") || !strings.HasSuffix(a.Source.Note, ", preferred") {
		t.Errorf("registrar address = %+v, want the registrar entity's own vCard with that source", a)
	}
	if !slices.Contains(emails(enr.Contacts), "registrar:kundeservice@domeneshop.no") {
		t.Errorf("contacts = %v, want the registrar's address among them for escalation", emails(enr.Contacts))
	}
}
