package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// BenchmarkStatsMillion stores a million cases directly in the store
// (the seeded data set of the tests), lets the statistics load them from
// the watch, and times GET /v1/stats and GET /v1/hosters over HTTP:
// sequential requests, then four clients at once while cases keep
// changing. It reports the load (catch-up) time, the heap the summaries
// take per case, the process's RSS (the embedded NATS server included)
// and each call's p50, p95 and max.
//
//	go test -run '^$' -bench BenchmarkStatsMillion -benchtime 1x -timeout 60m ./pkg/api
//
// TAKEDOWN_BENCH_CASES sets another number of cases.
func BenchmarkStatsMillion(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TAKEDOWN_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	ns := natstest.Start(b)
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(b.Context(), ns.JS, store.Options{
		Retry: broker.Retrier{CallTimeout: 30 * time.Second, Attempts: 5, Backoff: 100 * time.Millisecond}, Log: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	h := stats.NewURLHasher([]byte("bench-secret-0123456789abcdef0123456789"))
	rng := rand.New(rand.NewPCG(7, 7))
	seeded := time.Now()
	const chunk = 20000
	for done := 0; done < n; done += chunk {
		cases, _ := seedCases(rng, min(chunk, n-done), now, h, uint64(done+1))
		seedStore(b, st, cases)
	}
	seedTook := time.Since(seeded)
	b.Logf("seeded %d cases in %s (%.0f/s)", n, seedTook.Round(time.Second), float64(n)/seedTook.Seconds())

	snap := filepath.Join(b.TempDir(), "stats-snapshot")
	withSnap := stats.Options{HotlineCountry: "NL", Hasher: h, Log: log, SnapshotPath: snap, SnapshotEvery: time.Hour}
	agg := stats.New(st, withSnap)
	cpu0 := natstest.CPUTime()
	loading := time.Now()
	stopAgg := runAggregate(b, agg)
	for !agg.Loaded() {
		time.Sleep(10 * time.Millisecond)
	}
	loadTook, loadCPU := time.Since(loading), natstest.CPUTime()-cpu0
	size := agg.Size()
	b.Logf("loaded %d cases in %s (%.0f/s), %s of CPU (the server's sending included); rss %s", size, loadTook.Round(time.Millisecond),
		float64(size)/loadTook.Seconds(), loadCPU.Round(time.Millisecond), rss())

	api, err := New(st, Options{Tokens: statsTokens, PageSize: 50, MaxPageSize: 1000, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	api.ServeStats(agg)
	srv := httptest.NewServer(api)
	b.Cleanup(func() {
		if srv != nil {
			srv.Close()
		}
	})
	year := now.AddDate(-1, 0, 0).Format(time.DateOnly)
	calls := []string{
		"/v1/stats",
		"/v1/stats?from=" + year,
		"/v1/stats?country=NL&route=hoster",
		"/v1/hosters",
		"/v1/hosters?sort=cases&order=desc&from=" + year,
		"/v1/hosters/bigcloud.com",
	}
	get := func(path string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+statsToken)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for b.Loop() {
		const rounds = 40
		for _, path := range calls {
			var ds []time.Duration
			cpu := natstest.CPUTime()
			for range rounds {
				ds = append(ds, get(path))
			}
			report(b, fmt.Sprintf("seq %s (%s CPU each)", path, ((natstest.CPUTime()-cpu)/rounds).Round(time.Millisecond)), ds)
		}
		// Four clients at once while a writer keeps changing cases.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { churn(b, st, rng, now, h, n, stop) })
		var mu sync.Mutex
		var ds []time.Duration
		var clients sync.WaitGroup
		for c := range 4 {
			clients.Go(func() {
				for i := range 30 {
					d := get(calls[(c+i)%len(calls)])
					mu.Lock()
					ds = append(ds, d)
					mu.Unlock()
				}
			})
		}
		clients.Wait()
		close(stop)
		wg.Wait()
		report(b, "4 clients, all calls, cases changing", ds)
	}
	b.StopTimer()
	// A restart: the statistics stop, writing their snapshot, and start
	// again from it.
	wrote := time.Now()
	stopAgg()
	writeTook := time.Since(wrote)
	fi, err := os.Stat(snap)
	if err != nil {
		b.Fatal(err)
	}
	restarted := time.Now()
	reader := stats.New(st, withSnap)
	stopReader := runAggregate(b, reader)
	defer stopReader()
	for !reader.Loaded() {
		time.Sleep(time.Millisecond)
	}
	b.Logf("snapshot: %.0f MB written in %s at the stop; a start from it answers after %s (from revision %d)",
		float64(fi.Size())/1e6, writeTook.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond), reader.StartedFrom())
	b.ReportMetric(loadTook.Seconds(), "load_s")
	b.ReportMetric(loadCPU.Seconds(), "load_cpu_s")
}

func runAggregate(b *testing.B, a *stats.Aggregate) func() {
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// BenchmarkStatsMemory measures the heap the summaries take, fed a
// million seeded cases straight from memory (no NATS, whose buffers would
// blur the figure).
//
//	go test -run '^$' -bench BenchmarkStatsMemory -benchtime 1x ./pkg/api
func BenchmarkStatsMemory(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TAKEDOWN_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	h := stats.NewURLHasher([]byte("bench-secret-0123456789abcdef0123456789"))
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		agg := stats.New(generated{n: n, h: h, now: time.Now()}, stats.Options{HotlineCountry: "NL", Hasher: h})
		stop := runAggregate(b, agg)
		for !agg.Loaded() {
			time.Sleep(10 * time.Millisecond)
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perCase := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(agg.Size())
		b.Logf("%d cases: %.1f MB of heap, %.0f bytes per case", agg.Size(), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, perCase)
		b.ReportMetric(perCase, "heap_B/case")
		stop()
	}
}

// generated is a Watcher that makes up the seeded cases as it delivers
// them, in chunks, so that only the summaries stay in memory.
type generated struct {
	n   int
	h   *stats.URLHasher
	now time.Time
}

func (g generated) CasesBucket(context.Context) (store.BucketState, error) {
	return store.BucketState{}, nil
}

func (g generated) WatchCases(ctx context.Context, _ uint64, f store.CaseFeed) error {
	rng := rand.New(rand.NewPCG(7, 7))
	for done := 0; done < g.n; done += 20000 {
		cases, _ := seedCases(rng, min(20000, g.n-done), g.now, g.h, uint64(done+1))
		for i := range cases {
			f.Put(uint64(done+i+1), &cases[i])
		}
	}
	f.Loaded()
	<-ctx.Done()
	return nil
}

// churn rewrites random cases until stop, as the pipeline would.
func churn(b *testing.B, st *store.Store, rng *rand.Rand, now time.Time, h *stats.URLHasher, n int, stop chan struct{}) {
	local := rand.New(rand.NewPCG(rng.Uint64(), 1))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		cases, _ := seedCases(local, 1, now, h, uint64(n+1+i))
		if _, err := st.CreateCase(b.Context(), cases[0]); err != nil {
			b.Error(err)
			return
		}
	}
}

func report(b *testing.B, what string, ds []time.Duration) {
	slices.Sort(ds)
	p := func(q int) time.Duration { return ds[(q*len(ds)+99)/100-1] }
	b.Logf("%-45s n=%d p50 %s p95 %s max %s", what, len(ds), p(50).Round(time.Millisecond), p(95).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

// rss is the process's resident set size, from /proc.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// BenchmarkStatsQuery times the figures alone, over a million summaries
// fed from memory: what each request costs the CPU, without HTTP and
// NATS.
//
//	go test -run '^$' -bench BenchmarkStatsQuery -benchtime 20x ./pkg/api
func BenchmarkStatsQuery(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TAKEDOWN_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	h := stats.NewURLHasher([]byte("bench-secret-0123456789abcdef0123456789"))
	agg := stats.New(generated{n: n, h: h, now: time.Now()}, stats.Options{HotlineCountry: "NL", Hasher: h})
	defer runAggregate(b, agg)()
	for !agg.Loaded() {
		time.Sleep(10 * time.Millisecond)
	}
	scoped := stats.Filter{Audiences: []string{takedown.AudienceDomain("bigcloud.com")}}
	for _, q := range []struct {
		name string
		call func() error
	}{
		{"stats", func() error { _, err := agg.Stats(stats.Filter{}); return err }},
		{"stats_scoped", func() error { _, err := agg.Stats(scoped); return err }},
		{"hosters", func() error { _, err := agg.Hosters(stats.HosterQuery{}); return err }},
	} {
		b.Run(q.name, func(b *testing.B) {
			cpu := natstest.CPUTime()
			for b.Loop() {
				if err := q.call(); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time tells the work apart from the machine's load.
			b.ReportMetric(float64((natstest.CPUTime()-cpu).Milliseconds())/float64(b.N), "cpu_ms/op")
		})
	}
}
