package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	benchReports = flag.Int("reports", 50000, "reports published by BenchmarkIntake")
	benchWorkers = flag.Int("intake-workers", 0, "intake.workers in BenchmarkIntake (0: the default)")
)

// BenchmarkIntake publishes -reports reports (each of its own URL) and
// times until every one is a case, checks that each is in exactly one
// case, then, on the same server, does the same amount of raw JetStream
// work naively (one KV create, one KV update and one stream publish per
// message, one message at a time, and 32 at once) and reports the rates
// and their ratios. The 32-way naive rate is measured before and after the
// daemon's run and the mean is the one compared: other work on the machine
// that comes and goes then weighs on both alike. Beside the rates, the
// process's CPU time (the embedded server's included) per report and per
// naive message: on a busy machine the rates follow the load, the CPU a
// report costs much less.
//
//	go test -run '^$' -bench BenchmarkIntake -benchtime 1x ./pkg/app
func BenchmarkIntake(b *testing.B) {
	n := *benchReports
	for b.Loop() {
		cfg := testConfig(b.TempDir())
		if *benchWorkers > 0 {
			cfg.Intake.Workers = *benchWorkers
		}
		d := startDaemon(b, cfg)
		payloads := make([][]byte, n)
		for i := range n {
			payloads[i], _ = json.Marshal(report(fmt.Sprintf("bench-%d", i), fmt.Sprintf("http://h%d.example.nl/%d.jpg", i%500, i)))
		}
		before, beforeCPU := naiveRate(b, d.js, "before", n, 32)

		cpu := cpuTime()
		start := time.Now()
		publishAll(b, d.js, "bench-%d", payloads)
		d.settle()
		daemonRate := float64(n) / time.Since(start).Seconds()
		daemonCPU := (cpuTime() - cpu) / time.Duration(n)
		// Not timed: every report must have become a case, each its own.
		wantOneCasePerReport(b, d.app.Store(), "bench-%d", n, n)

		after, afterCPU := naiveRate(b, d.js, "after", n, 32)
		serial, _ := naiveRate(b, d.js, "serial", n, 1)
		parallel := (before + after) / 2
		b.ReportMetric(daemonRate, "daemon_reports/s")
		b.ReportMetric(serial, "naive_serial_msgs/s")
		b.ReportMetric(before, "naive_32way_before_msgs/s")
		b.ReportMetric(after, "naive_32way_after_msgs/s")
		b.ReportMetric(daemonRate/serial, "ratio_vs_serial")
		b.ReportMetric(daemonRate/parallel, "ratio_vs_32way")
		b.ReportMetric(float64(daemonCPU.Microseconds()), "daemon_cpu_µs/report")
		b.ReportMetric(float64((beforeCPU+afterCPU).Microseconds())/2, "naive_32way_cpu_µs/msg")
		d.shutdown()
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// naiveRate does n messages' naive work (KV create, KV update, stream
// publish) with workers at once, in a bucket and stream of its own named
// after name, and returns the rate and the process's CPU time per message.
func naiveRate(tb testing.TB, js jetstream.JetStream, name string, n, workers int) (float64, time.Duration) {
	ctx := context.Background()
	bucket := "naive_" + name
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage})
	if err != nil {
		tb.Fatal(err)
	}
	stream := "NAIVE_" + name
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"naive." + bucket + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		tb.Fatal(err)
	}
	value := []byte(`{"state":"received","url":"http://h1.example.nl/1.jpg"}`)
	cpu := cpuTime()
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
	return float64(n) / time.Since(start).Seconds(), (cpuTime() - cpu) / time.Duration(n)
}
