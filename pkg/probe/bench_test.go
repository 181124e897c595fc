package probe

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// benchProbes runs b.N probes from 64 workers against one loopback
// hostersim, spread over the given number of host names mapped to it by
// ConnectTo, and reports probes per second and verdict errors.
//
//	go test -run XXX -bench BenchmarkProbe -benchtime 20000x ./pkg/probe
func benchProbes(b *testing.B, hosts int, cfg Config, hashes Hashes, paths int) {
	srv := hostersim.New(false)
	b.Cleanup(srv.Close)
	body := []byte("material served by the simulated hoster, a few dozen bytes long")
	srv.SetDefault(hostersim.Content(body))
	cfg.AllowPrivate = true
	cfg.ConnectTo = make(map[string]string, hosts)
	for i := range hosts {
		cfg.ConnectTo[fmt.Sprintf("h%d.test:80", i)] = srv.Addr()
	}
	p := newTestProber(b, cfg, nil)
	var next, bad atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS workers, like a due batch fanned out
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			url := fmt.Sprintf("http://h%d.test/p%d", i%int64(hosts), i%int64(paths))
			if got := p.Probe(b.Context(), Request{URL: url, Hashes: hashes}); got.Verdict != Online {
				bad.Add(1)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
	if n := bad.Load(); n > 0 {
		b.Errorf("%d of %d probes not online", n, b.N)
	}
}

// BenchmarkProbe is one host, limits out of the way: the prober's own cost.
func BenchmarkProbe(b *testing.B) {
	b.Run("head", func(b *testing.B) {
		benchProbes(b, 1, Config{PerHostConcurrency: 256, PerHostRate: -1}, Hashes{}, 100_000)
	})
	b.Run("get_sha256", func(b *testing.B) {
		h := hashesOf([]byte("material served by the simulated hoster, a few dozen bytes long"))
		benchProbes(b, 1, Config{PerHostConcurrency: 256, PerHostRate: -1}, Hashes{SHA256: h.SHA256}, 100_000)
	})
}

// BenchmarkProbeManyHosts spreads probes over 1,000 host names with the
// default per-host concurrency and a rate limit that lets the run be
// measured: per-host bookkeeping and connection pools under load.
func BenchmarkProbeManyHosts(b *testing.B) {
	b.Run("1000_hosts", func(b *testing.B) {
		benchProbes(b, 1000, Config{PerHostRate: 1000, PerHostBurst: 100}, Hashes{}, 100_000)
	})
}
