package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// BenchmarkEnrich enriches 100,000 URLs spread over 2,000 networks and
// 5,000 registrable domains (20,000 host names), RDAP answering with 30 ms
// latency, DNS from dnssim, GeoIP from geoipsim databases. "cold" starts
// with every cache empty; "warm-kv" is a fresh replica (empty memory and
// DNS cache) sharing the RDAP KV bucket; "warm" repeats on the same
// enricher. It reports the RDAP queries sent against their bound (distinct
// networks + domains + registrar follow-ups + a parent per network + an
// autnum per origin AS; the networks sit below 10 parents announced by 10
// ASes) and URLs per second.
//
//	go test -run '^$' -bench BenchmarkEnrich -benchtime 1x -cpu 2 ./pkg/enrich/
func BenchmarkEnrich(b *testing.B) {
	const urls, networks, domains, hostsPerDomain, workers = 100_000, 2_000, 5_000, 4, 256
	sim, err := rdapsim.New(rdapsim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sim.Close)
	load, err := sim.Populate(networks, domains)
	if err != nil {
		b.Fatal(err)
	}
	for _, srv := range sim.Servers() {
		srv.SetLatency(30 * time.Millisecond)
	}
	dnsSrv := dnssim.Start(b)
	// Host h of domain j sits in network (j*hostsPerDomain+h) mod networks,
	// so every network is used and neighbouring URLs differ.
	hosts := make([]string, 0, domains*hostsPerDomain)
	for j, d := range load.Domains {
		for h := range hostsPerDomain {
			k := j*hostsPerDomain + h
			a := load.Networks[k%networks].Prefix.Addr().As4()
			a[3] = byte(1 + k/networks)
			name := fmt.Sprintf("s%d.%s", h, d.Name)
			dnsSrv.AddAddr(name, 3600, netip.AddrFrom4(a))
			hosts = append(hosts, name)
		}
	}
	geo := make([]geoipsim.Network, len(load.Networks))
	for i, n := range load.Networks {
		geo[i] = geoipsim.Network{Prefix: n.Prefix, Country: n.Country, ASN: n.ASN, Org: n.Handle}
	}
	countryPath, asnPath, err := geoipsim.WriteFiles(b.TempDir(), geo)
	if err != nil {
		b.Fatal(err)
	}
	parsed := make([]urlnorm.URL, urls)
	for i := range parsed {
		// URL i on host i*7919 mod hosts: consecutive URLs hit different
		// hosts, networks and domains.
		parsed[i], err = urlnorm.Parse(fmt.Sprintf("http://%s/img/%d.jpg", hosts[(i*7919)%len(hosts)], i))
		if err != nil {
			b.Fatal(err)
		}
	}
	ns := natstest.Start(b)
	kv, err := ns.JS.CreateKeyValue(b.Context(), rdap.BucketConfig("rdap", 0))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	newEnricher := func(b *testing.B) *Enricher {
		res, err := dns.New(dns.Config{Servers: []string{dnsSrv.Addr()}, CacheSize: 50_000}, log, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		// Loose limits: this measures our code and caching. With the
		// production limits the cold run is bounded by them (LACNIC's 10 a
		// minute alone makes 400 networks take 40 minutes).
		// As the daemon does (wire_enrich.go): idle connections for every
		// worker, so queries do not pay a TLS handshake each.
		transport := sim.HTTPClient().Transport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 2 * workers
		reg, err := rdap.New(rdap.Config{
			Overrides: sim.Overrides(), Limits: map[string]rdap.Limit{},
			DefaultLimit: rdap.Limit{PerMinute: 6e6, Burst: 1000},
		}, log, time.Now, &http.Client{Transport: transport}, rdap.NewKVCache(kv))
		if err != nil {
			b.Fatal(err)
		}
		db, err := geoip.New(geoip.Config{CountryPath: countryPath, ASNPath: asnPath}, log)
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(Options{Resolver: res, Registry: reg, Locator: db, CDN: defaultDetector(b), Log: log})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	// Parents: at most one per network (ARIN children ask per widened /23,
	// the others share their /16's); autnums: one per origin AS.
	bound := float64(2*networks + domains + load.FollowUps + len(load.Autnums))
	run := func(b *testing.B, e *Enricher) {
		sim.ResetQueries()
		start := time.Now()
		enrichAll(b, e, parsed, workers)
		b.ReportMetric(float64(urls)/time.Since(start).Seconds(), "urls/s")
		b.ReportMetric(float64(sim.Queries()), "rdap-queries")
		b.ReportMetric(bound, "query-bound")
	}
	var warm *Enricher
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			_ = ns.JS.DeleteKeyValue(b.Context(), "rdap")
			if kv, err = ns.JS.CreateKeyValue(b.Context(), rdap.BucketConfig("rdap", 0)); err != nil {
				b.Fatal(err)
			}
			warm = newEnricher(b)
			b.StartTimer()
			run(b, warm)
		}
	})
	b.Run("warm-kv", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e := newEnricher(b)
			b.StartTimer()
			run(b, e)
		}
	})
	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			run(b, warm)
		}
	})
}

func enrichAll(b *testing.B, e *Enricher, urls []urlnorm.URL, workers int) {
	var next, retries atomic.Int64
	defer func() { b.ReportMetric(float64(retries.Load()), "dns-retries") }()
	var failed sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(urls) {
					return
				}
				// A lost UDP datagram under this load is a temporary
				// failure that the stage retries; so does the benchmark.
				var enr takedown.Enrichment
				var err error
				for range 3 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					enr, err = e.Enrich(ctx, urls[i])
					cancel()
					if !errors.Is(err, ErrTemporary) {
						break
					}
					retries.Add(1)
				}
				if err != nil || len(enr.Contacts) == 0 || enr.Country.Country == "" || len(enr.Problems) > 0 {
					failed.Do(func() {
						b.Errorf("enrich url %d: %v (%d contacts, country %q, problems %v)", i, err, len(enr.Contacts), enr.Country.Country, enr.Problems)
					})
				}
			}
		})
	}
	wg.Wait()
}
