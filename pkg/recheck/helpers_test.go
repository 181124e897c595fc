package recheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stepClock is a clock that moves only when told to.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// noDNS knows no names, so no test asks a real resolver; every host a
// test probes is mapped by connect_to.
type noDNS struct{}

func (noDNS) LookupNetIP(_ context.Context, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// countingProber is a fake of our own Prober interface: it answers a
// fixed verdict and counts probes per URL.
type countingProber struct {
	mu      sync.Mutex
	verdict probe.Verdict
	calls   map[string]int
}

func (p *countingProber) Probe(_ context.Context, req probe.Request) probe.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[req.URL]++
	return probe.Result{Verdict: p.verdict, Reason: "fake"}
}

func (p *countingProber) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

// testRecheckConfig is classicConfig, the sparse cadence the tests of the
// mechanics (replicas, crashes, on-demand checks) count on: a first check
// 15 minutes after the notice and the next ones hours apart, at exact
// slots, so that none falls inside a test unasked. The default cadence (a
// check every 10 minutes, spread per case) is tested by what it decides
// (decide_test.go) and by the simulation (pkg/simnet/cadence).
func testRecheckConfig() config.Recheck {
	cfg := classicConfig()
	cfg.Workers = 16
	cfg.AckWait = 10 * time.Second
	return cfg
}

var testRetry = broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}

func openStore(tb testing.TB, ns *natstest.Server, now func() time.Time) *store.Store {
	tb.Helper()
	st, err := store.Open(tb.Context(), ns.JS, store.Options{Retry: testRetry, Now: now, Log: discardLogger()})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return st
}

func newRecheck(tb testing.TB, st *store.Store, cfg config.Recheck, p Prober, now func() time.Time) *Recheck {
	tb.Helper()
	r, err := New(tb.Context(), Options{Config: cfg, Store: st, Prober: p, Retry: testRetry, Log: discardLogger(), Now: now})
	if err != nil {
		tb.Fatalf("new recheck: %v", err)
	}
	return r
}

// runRecheck runs r until the test ends and checks that it stopped cleanly.
func runRecheck(tb testing.TB, r *Recheck) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("recheck run: %v", err)
		}
	})
}

func caseID(i int) string { return fmt.Sprintf("%016d", i) }

// noticedAt stores a case noticed at noticeAt whose URL is rawURL.
func noticedAt(tb testing.TB, st *store.Store, id, rawURL string, noticeAt time.Time, mutate ...func(*takedown.Case)) {
	tb.Helper()
	c := takedown.Case{
		ID: id, URL: rawURL, OriginalURL: rawURL, State: takedown.StateNoticed, ReceivedAt: noticeAt.Add(-time.Hour),
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: noticeAt},
		Notices: []takedown.NoticeRef{{Kind: "first", At: noticeAt, Outcome: "sent"}},
	}
	for _, m := range mutate {
		m(&c)
	}
	if _, err := st.CreateCase(tb.Context(), c); err != nil {
		tb.Fatalf("create case: %v", err)
	}
}

func getCase(tb testing.TB, st *store.Store, id string) takedown.Case {
	tb.Helper()
	c, _, err := st.GetCase(tb.Context(), id)
	if err != nil {
		tb.Fatalf("get case: %v", err)
	}
	return c
}

// waitFor polls cond until it holds or wait passes.
func waitFor(tb testing.TB, wait time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
