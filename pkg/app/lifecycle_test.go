package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/takedownd/takedownd/pkg/config"
)

// lifecycleConfig is a daemon with every part that has a start-up step of
// its own: enrichment against the simulated internet, the inbound SMTP
// listener and the drop directory.
func lifecycleConfig(t *testing.T, dir string) config.Config {
	cfg := testConfig(dir)
	simnetEnrich(t, &cfg, nil)
	cfg.Inbound.SMTP.Listen = "127.0.0.1:0"
	cfg.Inbound.Dir = filepath.Join(dir, "inbound")
	return cfg
}

// startStop runs New and, when it succeeds, Run, with a context that the
// hook may cancel at a step of start-up (or that ends after delay, when
// delay is not negative). It returns the steps seen, and fails the test
// unless the stop was clean: New returned ErrStopped, or Run returned nil.
// Either way nothing may be left running: the embedded NATS server and
// every listener are closed.
func startStop(t *testing.T, cfg config.Config, stopAfter string, delay time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		steps []string
		nats  *server.Server
		addrs []string
	)
	opts := Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	opts.afterStep = func(a *App, step string) {
		steps = append(steps, step)
		switch step {
		case "nats":
			nats = a.broker.Server
		case "inbound":
			addrs = append(addrs, a.InboundAddr())
		case "api listener":
			addrs = append(addrs, a.APIAddr())
		}
		if step == stopAfter {
			cancel()
		}
	}
	if delay >= 0 {
		time.AfterFunc(delay, cancel)
	}
	a, err := New(ctx, opts)
	switch {
	case err != nil && !errors.Is(err, ErrStopped):
		t.Fatalf("stop after %q (delay %s): New: %v, want ErrStopped", stopAfter, delay, err)
	case err == nil:
		if stopAfter == "running" {
			go cancel()
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		if delay < 0 && stopAfter == "" {
			cancel() // a full start: stop it now
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stop after %q (delay %s): Run: %v, want a clean stop", stopAfter, delay, err)
			}
		case <-time.After(waitBound):
			t.Fatalf("stop after %q (delay %s): Run did not return within %s", stopAfter, delay, waitBound)
		}
	}
	if nats != nil && nats.Running() {
		t.Errorf("stop after %q (delay %s): the embedded nats-server still runs", stopAfter, delay)
	}
	for _, addr := range addrs {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("stop after %q (delay %s): %s still accepts connections", stopAfter, delay, addr)
		}
	}
	return steps
}

// TestStopAtAnyMomentOfStartUp stops the daemon after each step of
// start-up, just after Run began, and at growing delays from the start,
// and requires a clean stop every time. Then a daemon starts on the same
// data dir and turns a report into a case: nothing was left half-made.
func TestStopAtAnyMomentOfStartUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := lifecycleConfig(t, dir)
	steps := startStop(t, cfg, "", -1)
	want := []string{"data dir", "nats", "store", "api", "intake", "actions", "enrich", "notify", "recheck", "inbound", "reconcile", "stats", "api listener"}
	if !slices.Equal(steps, want) {
		t.Fatalf("start-up steps %q, want %q", steps, want)
	}
	for _, step := range append(steps, "running") {
		startStop(t, cfg, step, -1)
	}
	for _, delay := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		startStop(t, cfg, "", delay)
	}

	d := startDaemon(t, testConfig(dir))
	d.publish(report("after-stops", "http://after.example.nl/a.jpg"), "after-stops")
	d.settle()
	if v := d.caseByURL("http://after.example.nl/a.jpg"); v.Case.ReportCount != 1 {
		t.Errorf("report count %d, want 1", v.Case.ReportCount)
	}
}
