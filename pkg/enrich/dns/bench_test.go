package dns

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
)

// benchmarkResolve resolves hosts round-robin from parallel goroutines.
// With a cache, after the first pass every lookup is a hit; without one,
// every lookup is two queries (A and AAAA) to the loopback server.
func benchmarkResolve(b *testing.B, cacheSize int) {
	srv := dnssim.Start(b)
	entries := srv.AddDomains(5000, "bench.test", 3600)
	r, err := New(Config{Servers: []string{srv.Addr()}, CacheSize: cacheSize}, discard(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var workers atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine starts elsewhere in the list, so uncached
		// lookups are not merged by single flight.
		i := int(workers.Add(1)) * 1009
		for pb.Next() {
			e := entries[i%len(entries)]
			i += 7
			if _, err := r.Resolve(b.Context(), e.Name); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := r.Stats()
	b.ReportMetric(float64(st.Queries)/float64(b.N), "queries/op")
}

func BenchmarkResolveCached(b *testing.B)   { benchmarkResolve(b, 10000) }
func BenchmarkResolveUncached(b *testing.B) { benchmarkResolve(b, -1) }
