package enrich

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// world is the outside world an Enricher asks, simulated on loopback: a
// DNS server, the RDAP registries (fixtures plus networks a test adds) and
// GeoIP databases written from a table.
type world struct {
	DNS  *dnssim.Server
	RDAP *rdapsim.Sim
	geo  []geoipsim.Network
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sim, err := rdapsim.New(rdapsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return &world{DNS: dnssim.Start(t), RDAP: sim}
}

// network puts prefix at registry with its RDAP answer and its GeoIP
// country and AS.
func (w *world) network(t *testing.T, registry string, n rdapsim.Network, country string, asn uint32, org string) {
	t.Helper()
	if n.Country == "" {
		n.Country = country
	}
	if err := w.RDAP.Server(registry).AddNetwork(n); err != nil {
		t.Fatal(err)
	}
	w.geo = append(w.geo, geoipsim.Network{Prefix: n.Prefix, Country: country, ASN: asn, Org: org})
}

// enricher asks the world with the daemon's own parts: the caching
// resolver, the RDAP client, the GeoIP databases and the built-in CDN
// list; more changes the options (a contact book).
func (w *world) enricher(t *testing.T, more ...func(*Options)) *Enricher {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	res, err := dns.New(dns.Config{Servers: []string{w.DNS.Addr()}, Timeout: time.Second}, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := rdap.New(rdap.Config{Overrides: w.RDAP.Overrides(), Limits: map[string]rdap.Limit{},
		DefaultLimit: rdap.Limit{PerMinute: 6e6, Burst: 1000}}, log, time.Now, w.RDAP.HTTPClient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	countryDB, asnDB, err := geoipsim.WriteFiles(t.TempDir(), w.geo)
	if err != nil {
		t.Fatal(err)
	}
	geo, err := geoip.New(geoip.Config{CountryPath: countryDB, ASNPath: asnDB}, log)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Resolver: res, Registry: reg, Locator: geo, CDN: defaultDetector(t), Log: log}
	for _, f := range more {
		f(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
