package rdap

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

func newSim(t testing.TB, plain bool) *rdapsim.Sim {
	t.Helper()
	sim, err := rdapsim.New(rdapsim.Options{PlainHTTP: plain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// fastConfig points at the simulation with loose limits and short waits.
func fastConfig(sim *rdapsim.Sim) Config {
	return Config{
		Overrides:    sim.Overrides(),
		Limits:       map[string]Limit{},
		DefaultLimit: Limit{PerMinute: 6e6, Burst: 1000},
		BackoffBase:  time.Millisecond, BackoffMax: 5 * time.Millisecond,
		MaxAttempts: 3,
	}
}

func newClient(t testing.TB, sim *rdapsim.Sim, cfg Config, cache Cache) *Client {
	t.Helper()
	c, err := New(cfg, slog.New(slog.DiscardHandler), time.Now, sim.HTTPClient(), cache)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLookupIPFixtures(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	c := newClient(t, sim, fastConfig(sim), nil)
	tests := []struct {
		name, addr, email, server, handle string
	}{
		{"ripe legacy /32 suffixes, no objectClassName", "62.239.237.1", "zzdnsr@bt.com", "rdap.db.ripe.net", "62.239.237.0 - 62.239.237.255"},
		{"ipv4-mapped ipv6 is unmapped", "::ffff:62.239.237.1", "zzdnsr@bt.com", "rdap.db.ripe.net", "62.239.237.0 - 62.239.237.255"},
		{"arin nested", "13.72.183.192", "abuse@microsoft.com", "rdap.arin.net", "NET-13-64-0-0-1"},
		{"lacnic single address", "200.57.141.161", "operacion.redes@TRIARA.COM", "rdap.lacnic.net", "200.57.141.161"},
		{"ripe without objectClassName, v6", "2a00:2381:ffff::1", "zzdnsr@bt.com", "rdap.db.ripe.net", "2a00:2381:ffff::/64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := c.LookupIP(t.Context(), netip.MustParseAddr(tc.addr))
			if err != nil {
				t.Fatal(err)
			}
			if n.Handle != tc.handle || n.Server != tc.server || len(n.Contacts) == 0 || n.Contacts[0].Email != tc.email {
				t.Errorf("got %s at %s, contacts %v; want %s at %s, %s", n.Handle, n.Server, n.Contacts, tc.handle, tc.server, tc.email)
			}
		})
	}
}

func TestLookupDomainFollowsRegistrar(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	// sim00000.com's registry answer links to the registrar's loopback
	// mirror itself, as a private mirror's answers do.
	if _, err := sim.Populate(0, 1); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, sim, fastConfig(sim), nil)
	tests := []struct {
		name, domain, regServer, email string
	}{
		{"registrar answers", "google.com", "rdap.markmonitor.com", "abusecomplaints@markmonitor.com"},
		{"registrar has no answer: registry data stands", "themarquetry.com", "", "abuse@registrar.eu"},
		{"link names the mirror: credited to the real host", "sim00000.com", "rdap.markmonitor.com", "abuse@registrar0.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { // not parallel: the query count below needs them done
			d, err := c.LookupDomain(t.Context(), tc.domain)
			if err != nil {
				t.Fatal(err)
			}
			if d.Server != "rdap.verisign.com" || d.Registrar == nil || d.Registrar.Server != tc.regServer ||
				len(d.Registrar.Contacts) == 0 || d.Registrar.Contacts[0].Email != tc.email {
				t.Errorf("got %+v registrar %+v", d, d.Registrar)
			}
		})
	}
	if got := sim.Server("markmonitor").Queries(); got != 2 {
		t.Errorf("markmonitor queries = %d, want 2", got)
	}
}

func TestLookupDomainRegistrarOwnVCard(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	c := newClient(t, sim, fastConfig(sim), nil)
	d, err := c.LookupDomain(t.Context(), "norway.no")
	if err != nil {
		t.Fatal(err)
	}
	r := d.Registrar
	if d.Server != "rdap.norid.no" || r == nil || r.Name != "Domeneshop AS" || len(r.Contacts) != 1 {
		t.Fatalf("domain %+v registrar %+v", d, r)
	}
	if ct := r.Contacts[0]; ct.Email != "kundeservice@domeneshop.no" || ct.Kind != KindOwnVCard || ct.Handle != "reg42-NORID" ||
		ct.Server != "rdap.norid.no" || !slices.Equal(ct.Path, []string{"registrar"}) {
		t.Errorf("registrar contact = %+v, want the registrar's own vCard address with its source", ct)
	}
	if len(d.Contacts) != 0 {
		t.Errorf("domain contacts = %+v, want none (the technical entity is no abuse contact)", d.Contacts)
	}
}

func TestRewriteCreditsRealHost(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: Config{Overrides: map[string]string{
		"https://rdap.arin.net/registry/": "https://127.0.0.1:9001/registry/",
		"http://rdap.arin.net/registry/":  "https://127.0.0.1:9001/registry/",
		"rdap.markmonitor.com":            "https://127.0.0.1:9002",
	}}}
	tests := []struct {
		name, raw, target, host string
	}{
		{"base url override", "https://rdap.arin.net/registry/ip/1.2.3.4", "https://127.0.0.1:9001/registry/ip/1.2.3.4", "rdap.arin.net"},
		{"bare host override", "https://rdap.markmonitor.com/rdap/domain/X", "https://127.0.0.1:9002/rdap/domain/X", "rdap.markmonitor.com"},
		{"link into a base url mirror", "https://127.0.0.1:9001/registry/entity/E", "https://127.0.0.1:9001/registry/entity/E", "rdap.arin.net"},
		{"link into a bare host mirror", "https://127.0.0.1:9002/rdap/domain/X", "https://127.0.0.1:9002/rdap/domain/X", "rdap.markmonitor.com"},
		{"no override", "https://rdap.example/ip/1.2.3.4", "https://rdap.example/ip/1.2.3.4", "rdap.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target, host, err := c.rewrite(tc.raw)
			if err != nil || target != tc.target || host != tc.host {
				t.Errorf("rewrite = %q, %q, %v; want %q, %q", target, host, err, tc.target, tc.host)
			}
		})
	}
}

func TestPoliteness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		plain       bool
		fault       rdapsim.Fault
		wantQueries int64
		wantErr     bool
		retryable   bool
		notFound    bool
	}{
		{"429 then success honours Retry-After", false, rdapsim.Fault{Status: 429, RetryAfter: time.Second, Times: 1}, 2, false, false, false},
		{"5xx twice then success", false, rdapsim.Fault{Status: 503, Times: 2}, 3, false, false, false},
		{"outage gives up after MaxAttempts", false, rdapsim.Fault{Status: 502}, 3, true, true, false},
		{"plain http never retries", true, rdapsim.Fault{Status: 503, Times: 1}, 1, true, true, false},
		{"404 is no data, not retried", false, rdapsim.Fault{Status: 404}, 1, true, false, true},
		{"403 is permanent", false, rdapsim.Fault{Status: 403}, 1, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, tc.plain)
			sim.Server("ripe").SetFault(tc.fault)
			c := newClient(t, sim, fastConfig(sim), nil)
			start := time.Now()
			_, err := c.LookupIP(t.Context(), netip.MustParseAddr("62.239.237.1"))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if IsRetryable(err) != tc.retryable || errors.Is(err, ErrNotFound) != tc.notFound {
				t.Errorf("err = %v: retryable %v, not found %v; want %v, %v", err, IsRetryable(err), errors.Is(err, ErrNotFound), tc.retryable, tc.notFound)
			}
			if got := sim.Server("ripe").Queries(); got != tc.wantQueries {
				t.Errorf("queries = %d, want %d", got, tc.wantQueries)
			}
			if tc.fault.RetryAfter > 0 && time.Since(start) < tc.fault.RetryAfter {
				t.Errorf("retried before Retry-After elapsed")
			}
		})
	}
}

func TestStubAbuseEntityFetchedOnce(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	for i, p := range []string{"185.1.0.0/24", "185.1.1.0/24"} {
		err := sim.Server("ripe").AddNetwork(rdapsim.Network{Prefix: netip.MustParsePrefix(p),
			Handle: []string{"STUB-A", "STUB-B"}[i], AbuseEmail: "abuse@stub.example", StubAbuse: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, sim, fastConfig(sim), nil)
	n, err := c.LookupIP(t.Context(), netip.MustParseAddr("185.1.0.9"))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Contacts) != 1 || n.Contacts[0].Email != "abuse@stub.example" || n.Contacts[0].Kind != KindEntitySelf {
		t.Errorf("contacts = %+v, want the stub's address fetched by self link", n.Contacts)
	}
	if got := sim.Server("ripe").Queries(); got != 2 {
		t.Errorf("queries = %d, want 2 (network + entity)", got)
	}
}

func TestConcurrentLookupsMerge(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	if _, err := sim.Populate(10, 10); err != nil {
		t.Fatal(err)
	}
	for _, srv := range sim.Servers() {
		srv.SetLatency(20 * time.Millisecond)
	}
	c := newClient(t, sim, fastConfig(sim), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 200 {
		wg.Go(func() {
			// 10 networks: 185.0.{0,1}.0/24 (ripe), 23.0.{0,1}.0/24 (arin) …
			addr := netip.AddrFrom4([4]byte{[]byte{185, 23, 1, 177, 41}[i%5], 0, byte(i / 5 % 2), byte(i)})
			if _, err := c.LookupIP(t.Context(), addr); err != nil {
				errs <- err
			}
			if _, err := c.LookupDomain(t.Context(), []string{"sim00000.com", "sim00001.com"}[i%2]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// 10 networks + 2 domains + 1 registrar follow-up (sim00000 links to one).
	if got := sim.Queries(); got != 13 {
		t.Errorf("queries = %d, want 13", got)
	}
}

func TestSharedCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	load, err := sim.Populate(5, 2)
	if err != nil {
		t.Fatal(err)
	}
	ns := natstest.Start(t)
	kv, err := ns.JS.CreateKeyValue(t.Context(), BucketConfig("rdap", 0))
	if err != nil {
		t.Fatal(err)
	}
	first := newClient(t, sim, fastConfig(sim), NewKVCache(kv))
	second := newClient(t, sim, fastConfig(sim), NewKVCache(kv))
	// Network, its parent, the origin AS and the domain.
	lookUp := func(c *Client, addr, domain string) (*Network, *Network, *Autnum, *Domain) {
		t.Helper()
		n, err := c.LookupIP(t.Context(), netip.MustParseAddr(addr))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.LookupParent(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.LookupAutnum(t.Context(), load.Networks[0].ASN)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.LookupDomain(t.Context(), domain)
		if err != nil {
			t.Fatal(err)
		}
		return n, p, a, d
	}
	lookUp(first, load.Networks[0].Prefix.Addr().Next().String(), "sim00001.com")
	before := sim.Queries()
	n, p, a, d := lookUp(second, "185.0.0.200", "SIM00001.COM.")
	if got := sim.Queries() - before; got != 0 {
		t.Errorf("second replica sent %d queries, want 0", got)
	}
	if n.Handle != load.Networks[0].Handle || d.Registrar == nil || d.Registrar.IANAID != load.Domains[1].IANAID {
		t.Errorf("cached answers = %+v, %+v", n, d)
	}
	if p.Handle != load.Parents[0].Handle || a.Contacts[0].Email != load.Autnums[0].AbuseEmail {
		t.Errorf("cached parent %s, autnum %+v; want %s, %s", p.Handle, a, load.Parents[0].Handle, load.Autnums[0].AbuseEmail)
	}
	if s := second.Stats(); s.SharedHits != 4 {
		t.Errorf("stats = %+v, want 4 shared hits", s)
	}
}

func TestBootstrapRefresh(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	iana := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := map[string]string{"/ipv4.json": "ipv4", "/ipv6.json": "ipv6", "/dns.json": "dns", "/asn.json": "asn"}[r.URL.Path]
		body, err := sim.Bootstrap(kind)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(iana.Close)
	cfg := fastConfig(sim)
	cfg.Overrides = nil
	cfg.BootstrapURL = iana.URL
	c := newClient(t, sim, cfg, nil)
	if err := c.RefreshBootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, err := c.LookupIP(t.Context(), netip.MustParseAddr("62.239.237.1"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Contacts[0].Email != "zzdnsr@bt.com" {
		t.Errorf("contacts = %v", n.Contacts)
	}
	a, err := c.LookupAutnum(t.Context(), 8283)
	if err != nil {
		t.Fatal(err)
	}
	if a.Contacts[0].Email != "abuse@coloclue.net" {
		t.Errorf("autnum contacts = %v", a.Contacts)
	}
}

func TestTLDOverride(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	if err := sim.Server("afnic").AddDomain(rdapsim.Domain{Name: "example.zz", Registrar: "R", IANAID: "7", AbuseEmail: "abuse@r.example"}); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig(sim)
	cfg.TLDServers = map[string]string{"zz": "https://rdap.nic.fr/"}
	c := newClient(t, sim, cfg, nil)
	d, err := c.LookupDomain(t.Context(), "example.zz")
	if err != nil {
		t.Fatal(err)
	}
	if d.Server != "rdap.nic.fr" || d.Registrar.Contacts[0].Email != "abuse@r.example" {
		t.Errorf("got %+v", d)
	}
	if _, err := c.LookupDomain(t.Context(), "example.unknowntld"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown TLD: err = %v, want ErrNotFound", err)
	}
}
