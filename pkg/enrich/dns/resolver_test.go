package dns

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
)

// clock is a stepped clock for cache expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newResolver(t *testing.T, cfg Config, clk *clock) *Resolver {
	t.Helper()
	r, err := New(cfg, discard(), clk.now)
	if err != nil {
		t.Fatalf("new resolver: %v", err)
	}
	return r
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestResolveAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(s *dnssim.Server)
		host       string
		wantAddrs  []netip.Addr
		wantCNAMEs []string
		wantTTL    time.Duration
	}{
		{
			name: "a and aaaa",
			setup: func(s *dnssim.Server) {
				s.AddAddr("www.example.test", 300, addrs("192.0.2.1", "192.0.2.2", "2001:db8::1")...)
			},
			host:      "WWW.Example.Test.",
			wantAddrs: addrs("192.0.2.1", "192.0.2.2", "2001:db8::1"),
			wantTTL:   300 * time.Second,
		},
		{
			name: "only aaaa",
			setup: func(s *dnssim.Server) {
				s.AddAddr("v6.example.test", 60, addrs("2001:db8::6")...)
			},
			host:      "v6.example.test",
			wantAddrs: addrs("2001:db8::6"),
			wantTTL:   60 * time.Second,
		},
		{
			name: "cname chain followed by the server",
			setup: func(s *dnssim.Server) {
				s.AddCNAME("www.shop.test", "shop.cdn.test", 120)
				s.AddCNAME("shop.cdn.test", "edge7.cdn.test", 20)
				s.AddAddr("edge7.cdn.test", 60, addrs("198.51.100.7", "2001:db8::7")...)
			},
			host:       "www.shop.test",
			wantAddrs:  addrs("198.51.100.7", "2001:db8::7"),
			wantCNAMEs: []string{"shop.cdn.test", "edge7.cdn.test"},
			wantTTL:    20 * time.Second,
		},
	}
	for _, chase := range []bool{true, false} {
		for _, tc := range tests {
			name := tc.name
			if !chase {
				name += " chased by us"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				srv := dnssim.Start(t)
				srv.ChaseCNAMEs(chase)
				tc.setup(srv)
				r := newResolver(t, Config{Servers: []string{srv.Addr()}}, newClock())
				got, err := r.Resolve(t.Context(), tc.host)
				if err != nil {
					t.Fatalf("resolve: %v", err)
				}
				if !slices.Equal(got.Addrs, tc.wantAddrs) {
					t.Errorf("addrs = %v, want %v", got.Addrs, tc.wantAddrs)
				}
				if !slices.Equal(got.CNAMEs, tc.wantCNAMEs) {
					t.Errorf("cnames = %v, want %v", got.CNAMEs, tc.wantCNAMEs)
				}
				if got.TTL != tc.wantTTL {
					t.Errorf("ttl = %v, want %v", got.TTL, tc.wantTTL)
				}
				if got.Server != srv.Addr() {
					t.Errorf("server = %q, want %q", got.Server, srv.Addr())
				}
				if got.Cached || got.Partial {
					t.Errorf("cached = %v, partial = %v, want both false", got.Cached, got.Partial)
				}
			})
		}
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		setup      func(s *dnssim.Server)
		cfg        Config
		wantErr    error
		wantCNAMEs []string
	}{
		{
			name:    "nxdomain",
			setup:   func(*dnssim.Server) {},
			wantErr: ErrNXDomain,
		},
		{
			name:    "nxdomain forced over records",
			setup:   func(s *dnssim.Server) { s.SetMode("h.example.test", dnssim.ModeNXDomain) },
			wantErr: ErrNXDomain,
		},
		{
			name:    "nodata for both families",
			setup:   func(s *dnssim.Server) { s.AddTXT("h.example.test", 60, "v=spf1 -all") },
			wantErr: ErrNoData,
		},
		{
			name: "dangling cname",
			setup: func(s *dnssim.Server) {
				s.AddCNAME("h.example.test", "gone.cdn.test", 60)
			},
			wantErr:    ErrNXDomain,
			wantCNAMEs: []string{"gone.cdn.test"},
		},
		{
			name: "cname loop",
			setup: func(s *dnssim.Server) {
				s.ChaseCNAMEs(false)
				s.AddCNAME("h.example.test", "b.example.test", 60)
				s.AddCNAME("b.example.test", "h.example.test", 60)
			},
			wantErr:    ErrCNAMELoop,
			wantCNAMEs: []string{"b.example.test"},
		},
		{
			name: "chain too long",
			setup: func(s *dnssim.Server) {
				s.ChaseCNAMEs(false)
				s.AddCNAME("h.example.test", "c1.example.test", 60)
				s.AddCNAME("c1.example.test", "c2.example.test", 60)
				s.AddCNAME("c2.example.test", "c3.example.test", 60)
				s.AddAddr("c3.example.test", 60, addrs("192.0.2.3")...)
			},
			cfg:        Config{MaxCNAMEs: 2},
			wantErr:    ErrChainTooLong,
			wantCNAMEs: []string{"c1.example.test", "c2.example.test"},
		},
		{
			name:    "servfail",
			setup:   func(s *dnssim.Server) { s.SetMode("h.example.test", dnssim.ModeServFail) },
			wantErr: ErrTemporary,
		},
		{
			name:    "refused",
			setup:   func(s *dnssim.Server) { s.SetMode("h.example.test", dnssim.ModeRefused) },
			wantErr: ErrTemporary,
		},
		{
			name:    "timeout",
			setup:   func(s *dnssim.Server) { s.SetMode("h.example.test", dnssim.ModeTimeout) },
			cfg:     Config{Timeout: 50 * time.Millisecond},
			wantErr: ErrTemporary,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := dnssim.Start(t)
			tc.setup(srv)
			tc.cfg.Servers = []string{srv.Addr()}
			r := newResolver(t, tc.cfg, newClock())
			got, err := r.Resolve(t.Context(), "h.example.test")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			permanent := errors.Is(err, ErrUnresolvable)
			if temporary := errors.Is(err, ErrTemporary); permanent == temporary {
				t.Errorf("err %v: permanent = %v, temporary = %v, want exactly one", err, permanent, temporary)
			}
			if !slices.Equal(got.CNAMEs, tc.wantCNAMEs) {
				t.Errorf("cnames = %v, want %v", got.CNAMEs, tc.wantCNAMEs)
			}
			// Permanent answers are cached, temporary failures are not.
			before := srv.Queries()
			_, err2 := r.Resolve(t.Context(), "h.example.test")
			if !errors.Is(err2, tc.wantErr) {
				t.Errorf("second err = %v, want %v", err2, tc.wantErr)
			}
			if asked := srv.Queries() > before; asked != !permanent {
				t.Errorf("second lookup asked the server = %v, want %v", asked, !permanent)
			}
		})
	}
}

func TestResolveBadName(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Config{Servers: []string{"127.0.0.1:1"}}, newClock())
	for _, host := range []string{"", ".", "a..b"} {
		if _, err := r.Resolve(t.Context(), host); !errors.Is(err, ErrBadName) {
			t.Errorf("resolve %q: err = %v, want ErrBadName", host, err)
		}
	}
}

func TestResolveTruncatedFallsBackToTCP(t *testing.T) {
	t.Parallel()
	srv := dnssim.Start(t)
	srv.AddAddr("big.example.test", 60, addrs("192.0.2.9")...)
	srv.SetMode("big.example.test", dnssim.ModeTruncate)
	r := newResolver(t, Config{Servers: []string{srv.Addr()}}, newClock())
	got, err := r.Resolve(t.Context(), "big.example.test")
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if want := addrs("192.0.2.9"); !slices.Equal(got.Addrs, want) {
		t.Errorf("addrs = %v, want %v", got.Addrs, want)
	}
	// Two families, each once over UDP and once over TCP.
	if got, want := srv.QueriesFor("big.example.test"), 4; got != want {
		t.Errorf("queries = %d, want %d", got, want)
	}
}

func TestResolveNextServer(t *testing.T) {
	t.Parallel()
	// The query timeout: with a server that fails at once, long enough
	// never to be what moves the resolver on; with one that never answers,
	// what does, yet long enough for the good server's answer on a busy
	// 2-core machine (50 ms was not).
	tests := []struct {
		name    string
		mode    dnssim.Mode
		timeout time.Duration
	}{
		{"after servfail", dnssim.ModeServFail, time.Minute},
		{"after timeout", dnssim.ModeTimeout, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad, good := dnssim.Start(t), dnssim.Start(t)
			bad.SetMode("h.example.test", tc.mode)
			good.AddAddr("h.example.test", 60, addrs("192.0.2.5")...)
			cfg := Config{Servers: []string{bad.Addr(), good.Addr()}, Timeout: tc.timeout}
			r := newResolver(t, cfg, newClock())
			got, err := r.Resolve(t.Context(), "h.example.test")
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if got.Server != good.Addr() {
				t.Errorf("server = %q, want %q", got.Server, good.Addr())
			}
			// A query the resolver gave up on may still be on its way to the
			// bad server, which counts it when it reads it.
			for deadline := time.Now().Add(time.Minute); bad.QueriesFor("h.example.test") < 2 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if bad.QueriesFor("h.example.test") != 2 {
				t.Errorf("bad server queries = %d, want 2", bad.QueriesFor("h.example.test"))
			}
		})
	}
}
