package rdap

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// BenchmarkLookups resolves 100,000 URLs (an IP lookup, its network's
// parent, the origin AS and the domain each) spread over 2,000 networks
// (below 10 parents, announced by 10 ASes) and 5,000 registrable domains,
// RDAP answering with 30 ms latency. "cold" starts with empty caches;
// "warm-kv" is a fresh replica (empty memory) sharing the KV bucket the
// cold run filled; "warm-memory" repeats on the same client. It reports
// the RDAP queries sent against their bound (networks + domains +
// registrar follow-ups + one parent per network + one per AS) and URLs
// per second.
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
		b.ReportMetric(queryBound(load), "query-bound")
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
		b.ReportMetric(queryBound(load), "query-bound")
	})
	b.Run("warm-kv", func(b *testing.B) {
		run(b, newClient(b, sim, cfg, NewKVCache(kv)))
	})
	b.Run("warm-memory", func(b *testing.B) {
		run(b, warm)
	})
}

// queryBound is the most queries a cold run may send: one per network,
// domain and registrar follow-up, one parent per network (ARIN children
// name their parent only by handle, so each pair of /24s asks for its own
// widened /23) and one per origin AS.
func queryBound(load rdapsim.Load) float64 {
	return float64(2*len(load.Networks) + len(load.Domains) + load.FollowUps + len(load.Autnums))
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
				found, errIP := c.LookupIP(ctx, netip.AddrFrom4(addr))
				var errUp error
				if errIP == nil {
					_, errUp = c.LookupParent(ctx, found)
				}
				_, errAS := c.LookupAutnum(ctx, n.ASN)
				_, errDom := c.LookupDomain(ctx, d.Name)
				cancel()
				if err := errors.Join(errIP, errUp, errAS, errDom); err != nil {
					failed.Do(func() { b.Errorf("lookup: %v", err) })
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
