package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var benchReports = flag.Int("reports", 50000, "reports published by BenchmarkIntake")

// BenchmarkIntake publishes -reports reports and times until every one is
// a case, then, on the same server, does the same amount of raw JetStream
// work naively (one KV create, one KV update and one stream publish per
// message, one message at a time) and reports both rates and their ratio.
//
//	go test -run '^$' -bench BenchmarkIntake -benchtime 1x ./pkg/app
func BenchmarkIntake(b *testing.B) {
	n := *benchReports
	for b.Loop() {
		d := startDaemon(b, testConfig(b.TempDir()))
		payloads := make([][]byte, n)
		for i := range n {
			payloads[i], _ = json.Marshal(report(fmt.Sprintf("bench-%d", i), fmt.Sprintf("http://h%d.example.nl/%d.jpg", i%500, i)))
		}
		start := time.Now()
		publishAll(b, d.js, "bench-%d", payloads)
		d.settle()
		daemonRate := float64(n) / time.Since(start).Seconds()

		naiveRate := naiveRate(b, d.js, n, 1)
		naiveParallel := naiveRate32(b, d.js, n)
		b.ReportMetric(daemonRate, "daemon_reports/s")
		b.ReportMetric(naiveRate, "naive_serial_msgs/s")
		b.ReportMetric(naiveParallel, "naive_32way_msgs/s")
		b.ReportMetric(daemonRate/naiveRate, "ratio_vs_serial")
		b.ReportMetric(daemonRate/naiveParallel, "ratio_vs_32way")
		d.shutdown()
	}
}

// publishAll publishes report payloads in windows that wait for their
// acks, with Nats-Msg-Id idFormat of the payload's index (the report id).
func publishAll(tb testing.TB, js jetstream.JetStream, idFormat string, payloads [][]byte) {
	const window = 1000 // stay under the client's limit of outstanding async publishes
	for start := 0; start < len(payloads); start += window {
		futures := make([]jetstream.PubAckFuture, 0, window)
		for i := start; i < min(start+window, len(payloads)); i++ {
			msg := nats.NewMsg("takedown.reports")
			msg.Data = payloads[i]
			msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf(idFormat, i))
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				tb.Fatalf("publish: %v", err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				tb.Fatalf("publish: %v", err)
			case <-time.After(60 * time.Second):
				tb.Fatal("publish: no ack within 60s")
			}
		}
	}
}

func naiveRate(tb testing.TB, js jetstream.JetStream, n, workers int) float64 {
	ctx := context.Background()
	bucket := fmt.Sprintf("naive_%d", workers)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage})
	if err != nil {
		tb.Fatal(err)
	}
	stream := fmt.Sprintf("NAIVE_%d", workers)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"naive." + bucket + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		tb.Fatal(err)
	}
	value := []byte(`{"state":"received","url":"http://h1.example.nl/1.jpg"}`)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				key := fmt.Sprintf("k%d", i)
				rev, err := kv.Create(ctx, key, value)
				if err != nil {
					tb.Error(err)
					return
				}
				if _, err := kv.Update(ctx, key, value, rev); err != nil {
					tb.Error(err)
					return
				}
				if _, err := js.Publish(ctx, "naive."+bucket+"."+key, value); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func naiveRate32(tb testing.TB, js jetstream.JetStream, n int) float64 {
	return naiveRate(tb, js, n, 32)
}
