package rdap

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/store"
)

// retryAfterEnd is the time a 429 answered at arrived told clients to
// wait for, as rdapsim writes the header.
func retryAfterEnd(arrived time.Time, f rdapsim.Fault) time.Time {
	if f.RetryAfterDate {
		return arrived.Add(f.RetryAfter + time.Second - 1).Truncate(time.Second)
	}
	return arrived.Add(f.RetryAfter)
}

// A server's Retry-After holds every later question, over http as over
// https, in both of the header's forms.
func TestRetryAfterOverEveryScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plain bool
		date  bool
	}{
		{"https, seconds", false, false},
		{"https, http date", false, true},
		{"plain http, seconds", true, false},
		{"plain http, http date", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, tc.plain)
			fault := rdapsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, RetryAfterDate: tc.date, Times: 1}
			ripe := sim.Server("ripe")
			other := distinctNetworks(t, sim, 1)[0]
			ripe.SetFault(fault)
			c := newClient(t, sim, fastConfig(sim), nil)
			_, err := c.LookupIP(t.Context(), netip.MustParseAddr("62.239.237.1"))
			switch {
			case tc.plain && (err == nil || !IsRetryable(err)):
				t.Fatalf("over plain http the first lookup ends with the 429, got %v", err)
			case !tc.plain && err != nil:
				t.Fatalf("over https the lookup retries after the pause, got %v", err)
			}
			// Another network at the same server, asked at once.
			if _, err := c.LookupIP(t.Context(), other); err != nil {
				t.Fatal(err)
			}
			reqs := ripe.Requests()
			if len(reqs) < 2 || reqs[0].Status != http.StatusTooManyRequests {
				t.Fatalf("requests = %+v, want a 429 first", reqs)
			}
			end := retryAfterEnd(reqs[0].At, fault)
			for _, r := range reqs[1:] {
				if r.At.Before(end) {
					t.Errorf("asked %s at %s, %s before the Retry-After ended", r.Path, r.At.Format(time.StampMilli), end.Sub(r.At))
				}
			}
		})
	}
}

// A 404 is an answer too: asked once, kept for NegativeTTL (shorter than
// answers), then asked again; a second replica sharing the cache does not
// ask at all.
func TestNotFoundIsCachedBriefly(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	ns := natstest.Start(t)
	kv, err := ns.JS.CreateKeyValue(t.Context(), BucketConfig("rdap", 0))
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	cfg := fastConfig(sim)
	cfg.NegativeTTL = time.Hour
	newReplica := func() *Client {
		c, err := New(cfg, slog.New(slog.DiscardHandler), now, sim.HTTPClient(), NewKVCache(kv))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, second := newReplica(), newReplica()
	arin := sim.Server("arin")
	// AS15169 is not in the fixtures: ARIN's stand-in answers 404. The
	// network 13.72.183.192 is, as a positive answer to compare with.
	lookUp := func(c *Client) {
		t.Helper()
		if _, err := c.LookupAutnum(t.Context(), 15169); !errorsIsNotFound(err) {
			t.Fatalf("autnum 15169: err = %v, want not found", err)
		}
		if _, err := c.LookupDomain(t.Context(), "never-registered.com"); !errorsIsNotFound(err) {
			t.Fatalf("domain: err = %v, want not found", err)
		}
		if _, err := c.LookupIP(t.Context(), netip.MustParseAddr("13.72.183.192")); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		replica *Client
		advance time.Duration
		arin    int64 // queries ARIN gets in this step
		total   int64
	}{
		{"first asks", first, 0, 2, 3},
		{"asked again at once: all cached", first, 0, 0, 0},
		{"the other replica: all in the shared cache", second, 0, 0, 0},
		{"after the negative ttl only the 404s are asked again", first, time.Hour + time.Second, 1, 2},
	}
	for _, st := range steps {
		clock.Add(int64(st.advance))
		arinBefore, before := arin.Queries(), sim.Queries()
		lookUp(st.replica)
		if got := arin.Queries() - arinBefore; got != st.arin {
			t.Errorf("%s: arin got %d queries, want %d", st.name, got, st.arin)
		}
		if got := sim.Queries() - before; got != st.total {
			t.Errorf("%s: %d queries in all, want %d", st.name, got, st.total)
		}
	}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// twoReplicas are two RDAP clients, each on its own NATS connection to one
// server, sharing the limiter bucket (and nothing else: no answer cache,
// so every lookup asks). ns is the server, for watching the bucket.
func twoReplicas(t *testing.T, sim *rdapsim.Sim, lim Limit) (replicas [2]*Client, ns *natstest.Server) {
	t.Helper()
	ns = natstest.Start(t)
	var js [2]jetstream.JetStream
	for i := range js {
		nc, err := nats.Connect(ns.Server.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		if js[i], err = jetstream.New(nc); err != nil {
			t.Fatal(err)
		}
	}
	return replicasOn(t, sim, lim, js, 1), ns
}

// replicasOn makes the two clients on the JetStream contexts given, the
// limiter bucket with that many replicas.
func replicasOn(t *testing.T, sim *rdapsim.Sim, lim Limit, js [2]jetstream.JetStream, streamReplicas int) (replicas [2]*Client) {
	t.Helper()
	for i := range replicas {
		st, err := store.Open(t.Context(), js[i], store.Options{Replicas: streamReplicas,
			Retry: broker.Retrier{CallTimeout: 10 * time.Second, Attempts: 10, Backoff: 100 * time.Millisecond},
			Log:   slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		limiter, err := OpenSharedLimiter(t.Context(), st, "rdap_limits", time.Now)
		if err != nil {
			t.Fatal(err)
		}
		cfg := fastConfig(sim)
		cfg.Limits, cfg.DefaultLimit, cfg.Limiter = map[string]Limit{"rdap.db.ripe.net": lim}, lim, limiter
		cfg.BackoffBase, cfg.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
		replicas[i] = newClient(t, sim, cfg, nil)
	}
	return replicas
}

// distinctNetworks adds n /24s at RIPE; a lookup of each costs one query.
func distinctNetworks(t *testing.T, sim *rdapsim.Sim, n int) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{185, 90, byte(i), 0}), 24)
		if err := sim.Server("ripe").AddNetwork(rdapsim.Network{Prefix: p, Handle: fmt.Sprintf("PACE-%d", i), AbuseEmail: "abuse@pace.example"}); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Addr().Next())
	}
	return out
}

// runWorkers looks the addresses up with perReplica workers on each
// replica, every worker one lookup at a time, and returns the errors.
func runWorkers(t *testing.T, replicas [2]*Client, perReplica int, addrs []netip.Addr) []error {
	t.Helper()
	work := make(chan netip.Addr, len(addrs))
	for _, a := range addrs {
		work <- a
	}
	close(work)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range replicas {
		for range perReplica {
			wg.Go(func() {
				for a := range work {
					if _, err := c.LookupIP(t.Context(), a); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	return errs
}

// maxInWindow is the most requests that arrived within any span of w.
func maxInWindow(reqs []rdapsim.Request, w time.Duration) int {
	best, j := 0, 0
	for i := range reqs {
		for reqs[i].At.Sub(reqs[j].At) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// Two replicas draw on one budget per server, on one server and on a
// three-node cluster with the replicas on different nodes (where every
// turn is a compare-and-set at the bucket's leader). The bound is exact,
// not timed: a token bucket of rate r and burst b grants at most b + r·w
// turns in any span w, and a request arriving in the span was granted in
// it or was already on its way when the span began — at most one per
// worker. Two replicas with a budget each would reach 2b + 2r·w.
func TestReplicasShareTheServersBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		replicas func(t *testing.T, sim *rdapsim.Sim, lim Limit) [2]*Client
	}{
		{"one nats server", func(t *testing.T, sim *rdapsim.Sim, lim Limit) [2]*Client {
			r, _ := twoReplicas(t, sim, lim)
			return r
		}},
		{"three-node cluster, replicas on different nodes", func(t *testing.T, sim *rdapsim.Sim, lim Limit) [2]*Client {
			c := natstest.StartCluster(t, 3)
			a, b := c.Connect(0), c.Connect(1)
			// Under load a fresh cluster may still count a peer offline
			// and refuse to place three replicas (error 10005, which
			// broker.Retrier does not retry): wait until it places them.
			c.WaitFor(60*time.Second, "placement of an R3 stream", func() bool {
				_, err := a.JS.CreateOrUpdateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "placement_probe", Replicas: 3})
				return err == nil
			})
			return replicasOn(t, sim, lim, [2]jetstream.JetStream{a.JS, b.JS}, 3)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := newSim(t, false)
			lim := Limit{PerMinute: 600, Burst: 2} // 10 a second
			const perReplica, lookups = 2, 40
			replicas := tc.replicas(t, sim, lim)
			addrs := distinctNetworks(t, sim, lookups)
			for _, err := range runWorkers(t, replicas, perReplica, addrs) {
				t.Error(err)
			}
			reqs := sim.Server("ripe").Requests()
			if len(reqs) != lookups {
				t.Fatalf("ripe got %d requests, want %d", len(reqs), lookups)
			}
			const w = time.Second
			bound := lim.Burst + int(lim.PerMinute/60*w.Seconds()) + 2*perReplica
			if got := maxInWindow(reqs, w); got > bound {
				t.Errorf("%d requests within %s, want at most %d (burst %d + rate %.0f/s + %d workers on their way)",
					got, w, bound, lim.Burst, lim.PerMinute/60, 2*perReplica)
			}
			// The requests took at least as long as the budget allows.
			if span, least := reqs[len(reqs)-1].At.Sub(reqs[0].At), time.Duration(float64(lookups-lim.Burst-2*perReplica)/(lim.PerMinute/60)*float64(time.Second)); span < least {
				t.Errorf("%d requests in %s, want at least %s", lookups, span, least)
			}
		})
	}
}

// A 429's Retry-After, seen by one replica, holds the other too: once the
// replica that got it has recorded it, nobody asks before the time it
// named, except requests already on their way (at most one per other
// worker). Between the server's answer and that record, the others may
// still ask: nobody knows of the 429 yet.
func TestReplicasShareRetryAfter(t *testing.T) {
	t.Parallel()
	sim := newSim(t, false)
	const perReplica, lookups = 2, 12
	replicas, ns := twoReplicas(t, sim, Limit{PerMinute: 6000, Burst: 4})
	addrs := distinctNetworks(t, sim, lookups)
	kv, err := ns.JS.KeyValue(t.Context(), "rdap_limits")
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(t.Context(), limiterKey("rdap.db.ripe.net"), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	fault := rdapsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second, Times: 1}
	ripe := sim.Server("ripe")
	ripe.SetFault(fault)
	for _, err := range runWorkers(t, replicas, perReplica, addrs) {
		t.Error(err)
	}
	reqs := ripe.Requests()
	if len(reqs) != lookups+1 || reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("requests = %+v, want the 429 first and one per lookup after", reqs)
	}
	end := retryAfterEnd(reqs[0].At, fault)
	// The first write of the record that carries the block. The watch
	// has every write already; the deadline only keeps a broken limiter
	// from hanging the test.
	var blocked time.Time
	deadline := time.After(30 * time.Second)
	for blocked.IsZero() {
		select {
		case e := <-w.Updates():
			var g gateState
			if e == nil || json.Unmarshal(e.Value(), &g) != nil {
				continue
			}
			if !g.Until.IsZero() {
				blocked = e.Created()
			}
		case <-deadline:
			t.Fatal("the block was never recorded")
		}
	}
	if !blocked.Before(end) {
		t.Fatalf("block recorded at %s, after the Retry-After ended at %s", blocked, end)
	}
	early := 0
	for _, r := range reqs[1:] {
		if !r.At.Before(blocked) && r.At.Before(end) {
			early++
		}
	}
	if early > 2*perReplica-1 {
		t.Errorf("%d requests arrived after the block was recorded and before the Retry-After ended, want at most %d (those on their way)", early, 2*perReplica-1)
	}
}

// BenchmarkSharedLimiterTurn measures what one turn at a server costs
// when the budget is no constraint: a leader read and a compare-and-set.
// Turns at one host queue in the process, so this also bounds how many
// queries a second one replica can make to one server.
func BenchmarkSharedLimiterTurn(b *testing.B) {
	ns := natstest.Start(b)
	st, err := store.Open(b.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 5, Backoff: 50 * time.Millisecond},
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	l, err := OpenSharedLimiter(b.Context(), st, "rdap_limits", time.Now)
	if err != nil {
		b.Fatal(err)
	}
	lim := Limit{PerMinute: 6e9, Burst: 1000}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Wait(b.Context(), "rdap.example", lim); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
}

// A turn whose write came back late is moved to the time the request
// leaves, so the next taker does not count the write's latency as refill
// and send its request right behind this one; a prompt turn stays as
// counted.
func TestALateTurnIsCountedWhenItLeaves(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 5, Backoff: 50 * time.Millisecond},
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write time.Duration // how long the turn's write took
		moved bool          // whether the turn is counted when the write is back
	}{
		{"late", 2 * time.Second, true},
		{"prompt", 10 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The clock is read once to decide the turn and once when
			// its write is back.
			var mu sync.Mutex
			var reads []time.Time
			now := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				if len(reads) == 0 {
					t.Error("clock read more than twice in a turn")
					return time.Now()
				}
				r := reads[0]
				reads = reads[1:]
				return r
			}
			l, err := OpenSharedLimiter(t.Context(), st, "rdap_limits_"+tc.name, now)
			if err != nil {
				t.Fatal(err)
			}
			decided := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)
			for turn := range 2 { // a record made, then one updated
				mu.Lock()
				reads = []time.Time{decided, decided.Add(tc.write)}
				mu.Unlock()
				if err := l.Wait(t.Context(), "rdap.example", Limit{PerMinute: 60, Burst: 1}); err != nil {
					t.Fatal(err)
				}
				g, _, err := l.b.Get(t.Context(), limiterKey("rdap.example"))
				if err != nil {
					t.Fatal(err)
				}
				want := decided
				if tc.moved {
					want = decided.Add(tc.write)
				}
				if !g.At.Equal(want) {
					t.Errorf("turn %d counted at %s, want %s (decided %s, its write took %s)", turn+1, g.At.Format(time.StampMilli), want.Format(time.StampMilli), decided.Format(time.StampMilli), tc.write)
				}
				decided = decided.Add(time.Minute) // a full bucket again
			}
		})
	}
}
