package rdap

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// BenchmarkLookups resolves 100,000 URLs (one IP and one domain lookup
// each) spread over 2,000 networks and 5,000 registrable domains, RDAP
// answering with 30 ms latency. "cold" starts with empty caches; "warm-kv"
// is a fresh replica (empty memory) sharing the KV bucket the cold run
// filled; "warm-memory" repeats on the same client. It reports the RDAP
// queries sent and URLs per second.
//
//	go test -run '^$' -bench BenchmarkLookups -benchtime 1x ./pkg/enrich/rdap/
func BenchmarkLookups(b *testing.B) {
	const urls, networks, domains, workers = 100_000, 2_000, 5_000, 256
	sim := newSim(b, false)
	load, err := sim.Populate(networks, domains)
	if err != nil {
		b.Fatal(err)
	}
	for _, srv := range sim.Servers() {
		srv.SetLatency(30 * time.Millisecond)
	}
	ns := natstest.Start(b)
	kv, err := ns.JS.CreateKeyValue(b.Context(), BucketConfig("rdap", 0))
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, c *Client) {
		for b.Loop() {
			sim.ResetQueries()
			start := time.Now()
			lookupAll(b, c, load, urls, workers)
			elapsed := time.Since(start)
			b.ReportMetric(float64(sim.Queries()), "rdap-queries")
			b.ReportMetric(float64(urls)/elapsed.Seconds(), "urls/s")
		}
		b.ReportMetric(float64(networks+domains+load.FollowUps), "query-bound")
	}
	cfg := fastConfig(sim)
	var warm *Client
	b.Run("cold", func(b *testing.B) {
		// A fresh shared cache per iteration keeps every iteration cold.
		for b.Loop() {
			b.StopTimer()
			_ = ns.JS.DeleteKeyValue(b.Context(), "rdap")
			kv, err = ns.JS.CreateKeyValue(b.Context(), BucketConfig("rdap", 0))
			if err != nil {
				b.Fatal(err)
			}
			warm = newClient(b, sim, cfg, NewKVCache(kv))
			sim.ResetQueries()
			b.StartTimer()
			start := time.Now()
			lookupAll(b, warm, load, urls, workers)
			b.ReportMetric(float64(urls)/time.Since(start).Seconds(), "urls/s")
			b.ReportMetric(float64(sim.Queries()), "rdap-queries")
		}
		b.ReportMetric(float64(networks+domains+load.FollowUps), "query-bound")
	})
	b.Run("warm-kv", func(b *testing.B) {
		run(b, newClient(b, sim, cfg, NewKVCache(kv)))
	})
	b.Run("warm-memory", func(b *testing.B) {
		run(b, warm)
	})
}

func lookupAll(b *testing.B, c *Client, load rdapsim.Load, urls, workers int) {
	jobs := make(chan int, workers)
	var wg sync.WaitGroup
	var failed sync.Once
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				// Spread: URL i sits in network i*7919 mod N and domain
				// i*104729 mod M, so consecutive URLs hit different ones.
				n := load.Networks[(i*7919)%len(load.Networks)]
				addr := n.Prefix.Addr().As4()
				addr[3] = byte(i)
				d := load.Domains[(i*104729)%len(load.Domains)]
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, errIP := c.LookupIP(ctx, netip.AddrFrom4(addr))
				_, errDom := c.LookupDomain(ctx, d.Name)
				cancel()
				if errIP != nil || errDom != nil {
					failed.Do(func() { b.Errorf("lookup: %v %v", errIP, errDom) })
				}
			}
		})
	}
	for i := range urls {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
