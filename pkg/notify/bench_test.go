package notify

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// BenchmarkBatching routes 10,000 enriched cases over 500 abuse contacts
// through one batching window and counts the notices the relay receives:
// exactly one per contact. It reports notices/s from the end of the window
// until the relay had them all, and the process's CPU time per case
// (making the enriched case, routing it, sending and recording its
// notice; the server's work included). In "spread" the cases take turns
// among the contacts; in "burst" each contact's 20 come one after the
// other, as a network's cases do when its RDAP answer arrives.
//
//	go test -run '^$' -bench BenchmarkBatching -benchtime 1x ./pkg/notify
func BenchmarkBatching(b *testing.B) {
	const cases, contacts = 10000, 500
	b.Run("spread", func(b *testing.B) { benchBatching(b, cases, contacts, func(i int) int { return i % contacts }) })
	b.Run("burst", func(b *testing.B) {
		benchBatching(b, cases, contacts, func(i int) int { return i / (cases / contacts) })
	})
}

func benchBatching(b *testing.B, cases, contacts int, contactOf func(int) int) {
	for b.Loop() {
		window := 15 * time.Second
		h := newBenchHarness(b, func(c *config.Notify) { c.BatchWindow = window; c.Workers = 32; c.SMTP.PoolSize = 8 })
		start, cpu := time.Now(), natstest.CPUTime()
		for i := range cases {
			c := contactOf(i)
			h.enrichedCase(fmt.Sprintf("http://h%d.example.nl/%d.jpg", c, i), takedown.PriorityNormal, fmt.Sprintf("abuse@hoster%d.example.nl", c))
		}
		routed := time.Since(start)
		h.waitMessagesFor(contacts, 2*time.Minute)
		sendDone := time.Since(start)
		time.Sleep(time.Second) // anything extra would arrive now
		msgs := h.relay.Messages()
		perContact := map[string]int{}
		for _, m := range msgs {
			perContact[m.To[0]]++
		}
		if len(msgs) != contacts || len(perContact) != contacts {
			b.Fatalf("%d notices to %d contacts, want exactly one to each of %d", len(msgs), len(perContact), contacts)
		}
		cpuPerCase := (natstest.CPUTime() - cpu) / time.Duration(cases)
		sending := sendDone - max(window, routed)
		b.ReportMetric(float64(len(msgs)), "notices")
		b.ReportMetric(float64(contacts)/sending.Seconds(), "notices/s")
		b.ReportMetric(float64(cases)/routed.Seconds(), "cases_routed/s")
		b.ReportMetric(float64(cpuPerCase.Microseconds()), "cpu_µs/case")
	}
}

// BenchmarkNoticeLatency offers 100 cases/s with a zero batching window
// and measures from the routing request to the relay's acceptance.
//
//	go test -run '^$' -bench BenchmarkNoticeLatency -benchtime 1x ./pkg/notify
func BenchmarkNoticeLatency(b *testing.B) {
	const n, rate = 1000, 100
	for b.Loop() {
		h := newBenchHarness(b, func(c *config.Notify) { c.BatchWindow = 0; c.Workers = 8 })
		var mu sync.Mutex
		sentAt := map[string]time.Time{}
		tick := time.NewTicker(time.Second / rate)
		for i := range n {
			<-tick.C
			to := fmt.Sprintf("abuse@hoster%d.example.nl", i%50)
			url := fmt.Sprintf("http://h.example.nl/%d.jpg", i)
			mu.Lock()
			sentAt[url] = time.Now()
			mu.Unlock()
			h.enrichedCase(url, takedown.PriorityNormal, to)
		}
		tick.Stop()
		h.waitMessagesFor(1, time.Minute)
		// Each message may carry several URLs when a contact's notices
		// overlap; latency is per URL, to the message that carried it.
		deadline := time.Now().Add(time.Minute)
		var lat []time.Duration
		for time.Now().Before(deadline) {
			lat = h.latencies(sentAt)
			if len(lat) == n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(lat) != n {
			b.Fatalf("%d of %d URLs reached the relay", len(lat), n)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99_ms")
	}
}
