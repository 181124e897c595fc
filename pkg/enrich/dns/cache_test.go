package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
)

func TestCacheExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(s *dnssim.Server)
		cfg       Config
		fresh     time.Duration // still cached after this long
		stale     time.Duration // asked again after this long
		wantError error
	}{
		{
			name:  "answer ttl",
			setup: func(s *dnssim.Server) { s.AddAddr("h.example.test", 120, addrs("192.0.2.1")...) },
			fresh: 119 * time.Second,
			stale: 120 * time.Second,
		},
		{
			name:  "ttl below the floor",
			setup: func(s *dnssim.Server) { s.AddAddr("h.example.test", 0, addrs("192.0.2.1")...) },
			cfg:   Config{MinTTL: 10 * time.Second},
			fresh: 9 * time.Second,
			stale: 10 * time.Second,
		},
		{
			name:  "ttl above the cap",
			setup: func(s *dnssim.Server) { s.AddAddr("h.example.test", 86400, addrs("192.0.2.1")...) },
			cfg:   Config{MaxTTL: time.Minute},
			fresh: 59 * time.Second,
			stale: time.Minute,
		},
		{
			name: "nxdomain by soa minimum",
			setup: func(s *dnssim.Server) {
				s.SetSOAMinimum(15)
			},
			fresh:     14 * time.Second,
			stale:     15 * time.Second,
			wantError: ErrNXDomain,
		},
		{
			name: "nxdomain capped by negative ttl",
			setup: func(s *dnssim.Server) {
				s.SetSOAMinimum(86400)
			},
			cfg:       Config{NegativeTTL: 30 * time.Second},
			fresh:     29 * time.Second,
			stale:     30 * time.Second,
			wantError: ErrNXDomain,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := dnssim.Start(t)
			tc.setup(srv)
			clk := newClock()
			tc.cfg.Servers = []string{srv.Addr()}
			r := newResolver(t, tc.cfg, clk)
			resolve := func() Answer {
				t.Helper()
				a, err := r.Resolve(t.Context(), "h.example.test")
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("resolve: err = %v, want %v", err, tc.wantError)
				}
				return a
			}
			resolve()
			first := srv.Queries()
			clk.step(tc.fresh)
			if a := resolve(); !a.Cached && tc.wantError == nil {
				t.Errorf("answer after %v not marked cached", tc.fresh)
			}
			if srv.Queries() != first {
				t.Errorf("server asked again after %v", tc.fresh)
			}
			clk.step(tc.stale - tc.fresh)
			resolve()
			if srv.Queries() == first {
				t.Errorf("server not asked again after %v", tc.stale)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	t.Parallel()
	srv := dnssim.Start(t)
	entries := srv.AddDomains(5, "bulk.test", 3600)
	r := newResolver(t, Config{Servers: []string{srv.Addr()}, CacheSize: 3}, newClock())
	for _, e := range entries {
		a, err := r.Resolve(t.Context(), e.Name)
		if err != nil {
			t.Fatalf("resolve %s: %v", e.Name, err)
		}
		if !slices.Equal(a.Addrs, []netip.Addr{e.Addr}) {
			t.Errorf("resolve %s = %v, want %v", e.Name, a.Addrs, e.Addr)
		}
	}
	if got := r.cache.len(); got != 3 {
		t.Errorf("cache holds %d entries, want 3", got)
	}
	// The oldest host was evicted; the newest is still there.
	before := srv.Queries()
	if _, err := r.Resolve(t.Context(), entries[4].Name); err != nil {
		t.Fatal(err)
	}
	if srv.Queries() != before {
		t.Errorf("newest host was not cached")
	}
	if _, err := r.Resolve(t.Context(), entries[0].Name); err != nil {
		t.Fatal(err)
	}
	if srv.Queries() == before {
		t.Errorf("oldest host was not evicted")
	}
}

func TestSingleFlight(t *testing.T) {
	t.Parallel()
	srv := dnssim.Start(t)
	srv.AddAddr("h.example.test", 60, addrs("192.0.2.1")...)
	release := srv.Hold("h.example.test")
	defer release()
	// No cache, so only single flight can merge the lookups.
	r := newResolver(t, Config{Servers: []string{srv.Addr()}, CacheSize: -1}, newClock())

	const callers = 20
	errs := make(chan error, callers)
	lookup := func() {
		a, err := r.Resolve(t.Context(), "h.example.test")
		if err == nil && len(a.Addrs) != 1 {
			err = fmt.Errorf("addrs = %v", a.Addrs)
		}
		errs <- err
	}
	go lookup()
	// Once both families are waiting at the server, the flight is
	// registered and every later caller must join it.
	for srv.QueriesFor("h.example.test") < 2 {
		time.Sleep(time.Millisecond)
	}
	var wg sync.WaitGroup
	for range callers - 1 {
		wg.Go(lookup)
	}
	// Joining cannot be observed from outside, so give the callers a
	// moment; one that came too late would start a second flight and
	// fail the test, never make it pass wrongly.
	time.Sleep(20 * time.Millisecond)
	release()
	wg.Wait()
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("resolve: %v", err)
		}
	}
	if got := srv.QueriesFor("h.example.test"); got != 2 {
		t.Errorf("queries = %d, want 2 (one per family)", got)
	}
}

func TestSystemServers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.test\nnameserver 127.0.0.53\nnameserver ::1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"resolv.conf", Config{ResolvConf: conf}, []string{"127.0.0.53:53", "[::1]:53"}},
		{"missing resolv.conf", Config{ResolvConf: filepath.Join(dir, "none")}, []string{"127.0.0.1:53", "[::1]:53"}},
		{"configured without port", Config{Servers: []string{"127.0.0.2", "[::1]", "127.0.0.3:5353"}},
			[]string{"127.0.0.2:53", "[::1]:53", "127.0.0.3:5353"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newResolver(t, tc.cfg, newClock())
			if got := r.Servers(); !slices.Equal(got, tc.want) {
				t.Errorf("servers = %v, want %v", got, tc.want)
			}
		})
	}
}
