package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// flaky is a part that fails `fails` times, then returns nil once (which
// is a failure too), then runs until it is stopped.
type flaky struct {
	fails int32
	calls atomic.Int32
}

func (f *flaky) Run(ctx context.Context) error {
	switch n := f.calls.Add(1); {
	case n <= f.fails:
		return errors.New("boom")
	case n == f.fails+1:
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestSupervisorRestartsAPartThatNeedsOnlyNATS(t *testing.T) {
	t.Parallel()
	a := &App{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f := &flaky{fails: 2}
	p := &part{name: "flaky", r: f, onFailure: restartPart}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- a.supervise(ctx, p, func(err error) { t.Errorf("a restartable part failed the daemon: %v", err) })
	}()
	sawDown := false
	deadline := time.Now().Add(waitBound)
	for f.calls.Load() < 4 {
		if p.downErr() != nil {
			sawDown = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("the part was started %d times, want 4 (two errors and a nil are failures)", f.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !sawDown {
		t.Error("the part was never reported down while it waited to restart")
	}
	if err := p.downErr(); err != nil {
		t.Errorf("running again, but reported down: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("a stop (context.Canceled) reported as %v", err)
	}
}

func TestSupervisorFailsTheDaemonForAPartWithASocket(t *testing.T) {
	t.Parallel()
	a := &App{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := &part{name: "listener", r: &flaky{fails: 1}, onFailure: failDaemon}
	var fatal error
	if err := a.supervise(t.Context(), p, func(err error) { fatal = err }); err != nil {
		t.Fatal(err)
	}
	if fatal == nil || !strings.Contains(fatal.Error(), "listener: boom") {
		t.Errorf("fatal error %v, want the part's", fatal)
	}
}

// A stage whose consumer is deleted behind the daemon's back is restarted:
// its consumer comes back and the work flows again.
func TestStageRestartsAfterItsConsumerIsDeleted(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	cfg.Notify.BatchWindow = 0 // the notice goes to the outbox at once
	d := startDaemon(t, cfg)
	d.waitReady()
	if err := d.js.DeleteConsumer(t.Context(), store.WorkStream, "takedownd-route"); err != nil {
		t.Fatal(err)
	}
	id := createEnrichedCase(t, d, "0000000000000A01", "abuse@hoster-a.nl")
	d.waitCase(id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
	if _, err := d.js.Consumer(t.Context(), store.WorkStream, "takedownd-route"); err != nil {
		t.Errorf("route consumer not created again: %v", err)
	}
	d.waitReady()
}

// A part that owns a socket fails the daemon at once when it fails: Run
// returns its error, so the process exits non-zero.
func TestDaemonFailsWhenTheAPIListenerDies(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	d.waitReady()
	if err := d.app.apiLn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err == nil || !strings.Contains(err.Error(), "api:") {
			t.Errorf("Run returned %v, want the API's failure", err)
		}
	case <-time.After(waitBound):
		t.Fatal("the daemon ran on without its API")
	}
	d.nc.Close()
	d.anc.Close()
	d.stop()
	d.stop = nil
}

// readyz returns the status and reason of GET /readyz.
func (d *daemon) readyz() (int, string) {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(d.t.Context(), http.MethodGet, "http://"+d.app.APIAddr()+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var body struct{ Reason string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Reason
}

// waitReady waits until /readyz answers 200.
func (d *daemon) waitReady() {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		code, reason := d.readyz()
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("not ready within %s: %d %s", waitBound, code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// /readyz answers 503 with the reason when a write cannot be committed
// (the cases of a missing consumer and a case index that stopped
// following are tested in package store).
func TestReadyzSaysWhyWritesFail(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	d.waitReady()
	s, err := d.js.Stream(t.Context(), "KV_"+store.HealthBucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Sealed = true
	if _, err := d.js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for {
		code, reason := d.readyz()
		if code == http.StatusServiceUnavailable && strings.Contains(reason, "a write was not committed") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answers %d %q, want 503 naming the write", code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
