package rdap

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// addFamily loads a parent /16 and children /24 below it into a server;
// link says whether the children link to the parent (rel "up") or only
// name it by parentHandle (ARIN).
func addFamily(t *testing.T, srv *rdapsim.Server, parent string, link bool, children ...string) {
	t.Helper()
	up := netip.MustParsePrefix(parent)
	if err := srv.AddNetwork(rdapsim.Network{Prefix: up, Handle: "UP-" + parent, AbuseEmail: "abuse@transit.example"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range children {
		n := rdapsim.Network{Prefix: netip.MustParsePrefix(c), Handle: "NET-" + c, AbuseEmail: "abuse@hoster.example"}
		if link {
			n.Parent = up
		} else {
			n.ParentHandle = "UP-" + parent
		}
		if err := srv.AddNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLookupParent(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	addFamily(t, sim.Server("ripe"), "185.60.0.0/16", true, "185.60.7.0/24", "185.60.9.0/24")
	addFamily(t, sim.Server("arin"), "23.60.0.0/16", false, "23.60.7.0/24")
	// RIPE names the whole address space as the parent of its top networks.
	top := rdapsim.Network{Prefix: netip.MustParsePrefix("185.63.0.0/16"), Handle: "TOP", AbuseEmail: "abuse@top.example", ParentHandle: "0.0.0.0 - 255.255.255.255"}
	if err := sim.Server("ripe").AddNetwork(top); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr string
		handle     string // "" with an error
		server     string
		noParent   bool // ErrNoParent rather than a missing answer
		queries    int64
	}{
		{"up link (APNIC style) names the parent's prefix", "185.60.7.1", "UP-185.60.0.0/16", "rdap.db.ripe.net", false, 2},
		{"parentHandle only (ARIN): the range widened by one bit", "23.60.7.1", "UP-23.60.0.0/16", "rdap.arin.net", false, 2},
		{"no parentHandle, no link: nothing to ask", "200.57.141.161", "", "", true, 1},
		{"parent is the whole address space: not a level", "185.63.0.1", "", "", true, 1},
		{"linked parent the registry does not serve", "210.107.73.73", "", "", false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, sim, fastConfig(sim), nil)
			before := c.Stats().Queries
			n, err := c.LookupIP(t.Context(), netip.MustParseAddr(tc.addr))
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.LookupParent(t.Context(), n)
			switch {
			case tc.handle == "":
				if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoParent) != tc.noParent {
					t.Errorf("err = %v, want not found (no parent named: %v)", err, tc.noParent)
				}
			case err != nil:
				t.Fatal(err)
			case p.Handle != tc.handle || p.Server != tc.server || len(p.Contacts) != 1 || p.Contacts[0].Email != "abuse@transit.example":
				t.Errorf("parent = %s at %s, contacts %v; want %s at %s, abuse@transit.example", p.Handle, p.Server, p.Contacts, tc.handle, tc.server)
			}
			if got := c.Stats().Queries - before; got != tc.queries {
				t.Errorf("queries = %d, want %d", got, tc.queries)
			}
		})
	}
}

func TestParentAskedOnceAndKeptApart(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	children := []string{"185.61.1.0/24", "185.61.2.0/24", "185.61.3.0/24", "185.61.4.0/24"}
	addFamily(t, sim.Server("ripe"), "185.61.0.0/16", true, children...)
	for _, srv := range sim.Servers() {
		srv.SetLatency(10 * time.Millisecond)
	}
	c := newClient(t, sim, fastConfig(sim), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			addr := netip.MustParsePrefix(children[i%len(children)]).Addr().Next()
			n, err := c.LookupIP(t.Context(), addr)
			if err == nil {
				_, err = c.LookupParent(t.Context(), n)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One query per child and one for the parent they share.
	if got := sim.Server("ripe").Queries(); got != int64(len(children))+1 {
		t.Errorf("queries = %d, want %d", got, len(children)+1)
	}
	// A new child under the cached parent is still asked for: the parent
	// does not answer for the addresses in its range.
	if err := sim.Server("ripe").AddNetwork(rdapsim.Network{Prefix: netip.MustParsePrefix("185.61.200.0/24"), Handle: "LATE", AbuseEmail: "abuse@late.example"}); err != nil {
		t.Fatal(err)
	}
	n, err := c.LookupIP(t.Context(), netip.MustParseAddr("185.61.200.1"))
	if err != nil {
		t.Fatal(err)
	}
	if n.Handle != "LATE" {
		t.Errorf("LookupIP after the parent was cached = %s, want LATE", n.Handle)
	}
}

func TestLookupAutnum(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	if err := sim.Server("ripe").AddAutnum(rdapsim.Autnum{ASN: 12300, Name: "SIM", AbuseEmail: "abuse@as12300.example"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		asn       uint32
		fault     rdapsim.Fault // on arin
		email     string        // "" with an error
		server    string
		kind      string
		notFound  bool
		retryable bool
	}{
		{name: "ripe", asn: 8283, email: "abuse@coloclue.net", server: "rdap.db.ripe.net", kind: KindEntity},
		{name: "apnic", asn: 9269, email: "abuse@hkbn.net", server: "rdap.apnic.net", kind: KindEntity},
		{name: "arin nested abuse poc", asn: 2914, email: "abuse@ntt.net", server: "rdap.arin.net", kind: KindEntity},
		{name: "afrinic by heuristic", asn: 37271, email: "abuse@workonline.africa", server: "rdap.afrinic.net", kind: KindHeuristic},
		{name: "generated", asn: 12300, email: "abuse@as12300.example", server: "rdap.db.ripe.net", kind: KindEntity},
		{name: "registry has no such AS", asn: 4, notFound: true},
		{name: "private AS: no registry in the bootstrap", asn: 64512, notFound: true},
		{name: "429 until retries run out", asn: 13335, fault: rdapsim.Fault{Status: 429}, retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sim
			if tc.fault.Status != 0 {
				s = newSim(t, false) // faults are per server
				s.Server("arin").SetFault(tc.fault)
			}
			c := newClient(t, s, fastConfig(s), nil)
			a, err := c.LookupAutnum(t.Context(), tc.asn)
			if tc.email == "" {
				if err == nil || errors.Is(err, ErrNotFound) != tc.notFound || IsRetryable(err) != tc.retryable {
					t.Errorf("err = %v, want not found %v, retryable %v", err, tc.notFound, tc.retryable)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.ASN != tc.asn || a.Server != tc.server || len(a.Contacts) == 0 || a.Contacts[0].Email != tc.email || a.Contacts[0].Kind != tc.kind {
				t.Errorf("autnum = %+v, want AS%d at %s with %s (%s)", a, tc.asn, tc.server, tc.email, tc.kind)
			}
		})
	}
}
