package app

import (
	"bytes"
	"fmt"
	"net/mail"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// BenchmarkReportToNotice publishes 1,000 reports at 100 per second to the
// whole daemon (intake, enrichment against the simulated DNS, RDAP and
// GeoIP, routing, a zero batching window) and measures, per URL, the time
// from publishing its report to the relay accepting the notice with it.
//
//	go test -run '^$' -bench BenchmarkReportToNotice -benchtime 1x ./pkg/app
func BenchmarkReportToNotice(b *testing.B) {
	const n, rate, hosts = 1000, 100, 50
	for b.Loop() {
		cfg := testConfig(b.TempDir())
		sn := simnetEnrich(b, &cfg, []geoipsim.Network{{Prefix: netip.MustParsePrefix("185.0.0.0/16"), Country: "NL", ASN: 64500, Org: "Hoster B.V."}})
		for h := range hosts {
			prefix := netip.MustParsePrefix(fmt.Sprintf("185.0.%d.0/24", h))
			if err := sn.RDAP.Server("ripe").AddNetwork(rdapsim.Network{Prefix: prefix, Handle: fmt.Sprintf("NET-%d", h), Country: "NL", AbuseEmail: fmt.Sprintf("abuse@hoster%d.nl", h)}); err != nil {
				b.Fatal(err)
			}
			sn.DNS.AddAddr(fmt.Sprintf("h%d.example.nl", h), 300, prefix.Addr().Next())
		}
		relay, err := smtpsim.New(smtpsim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port, cfg.Notify.SMTP.TLS = relay.Host(), relay.Port(), "none"
		cfg.Notify.BatchWindow = 0
		// Measure our pipeline, not RIPE's published limit (300/min), which
		// the cold cache would otherwise queue behind.
		cfg.Enrich.RDAP.Limits = map[string]config.RDAPLimit{"rdap.db.ripe.net": {PerMinute: 60_000, Burst: 100}}
		d := startDaemon(b, cfg)

		published := make(map[string]time.Time, n)
		tick := time.NewTicker(time.Second / rate)
		for i := range n {
			<-tick.C
			u := fmt.Sprintf("http://h%d.example.nl/img/%d.jpg", i%hosts, i)
			published[u] = time.Now()
			d.publish(report(fmt.Sprintf("lat-%d", i), u), fmt.Sprintf("lat-%d", i))
		}
		tick.Stop()
		// Each relayed message names its notice; the notice lists its URLs.
		var lat []time.Duration
		seen := map[string]bool{}
		deadline := time.Now().Add(2 * time.Minute)
		for len(seen) < n && time.Now().Before(deadline) {
			for _, m := range relay.Messages() {
				msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					b.Fatal(err)
				}
				var rec struct {
					Items []struct {
						URL string `json:"url"`
					} `json:"items"`
				}
				d.get("/v1/notices/"+msg.Header.Get("X-Takedown-Ref"), testToken, &rec)
				for _, it := range rec.Items {
					if at, ok := published[it.URL]; ok && !seen[it.URL] {
						seen[it.URL] = true
						lat = append(lat, m.At.Sub(at))
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(lat) < n {
			cases, _, err := d.app.Store().List(b.Context(), store.ListFilter{Limit: n})
			states := map[takedown.State]int{}
			for _, c := range cases {
				states[c.State]++
			}
			b.Fatalf("%d of %d URLs reached the relay; cases by state: %v (%v)", len(lat), n, states, err)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99_ms")
		b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max_ms")
		d.shutdown()
		relay.Close()
	}
}
