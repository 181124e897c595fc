package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/intake"
	"github.com/takedownd/takedownd/pkg/store"
)

// crash stops the daemon the hard way: the NATS server disappears under
// in-flight work, as when the machine loses power.
func (d *daemon) crash() {
	d.app.broker.Server.Shutdown()
	d.nc.Close()
	d.stop()
	select {
	case <-d.done: // errors are expected here
	case <-time.After(waitBound):
		d.t.Fatal("daemon did not stop after crash")
	}
	d.stop = nil
}

func TestCrashDuringBurstLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	const reports, urls = 5000, 4000
	dir := t.TempDir()
	d := startDaemon(t, testConfig(dir))

	payloads := make([][]byte, reports)
	for i := range reports {
		payloads[i] = mustJSON(t, report(fmt.Sprintf("burst-%d", i), fmt.Sprintf("http://h%d.example.nl/img/%d.jpg", (i%urls)%97, i%urls)))
	}
	publishAll(t, d.js, "burst-%d", payloads)
	// Let intake get well into the burst, then pull the plug.
	waitAcked(t, d, 1000)
	d.crash()

	d2 := startDaemon(t, testConfig(dir))
	d2.settle()

	wantOneCasePerReport(t, d2.app.Store(), "burst-%d", reports, urls)
}

// wantOneCasePerReport checks that every report id (format with 0 … n-1)
// is in exactly one case, and that there is one case per URL.
func wantOneCasePerReport(t testing.TB, st *store.Store, format string, n, urls int) {
	t.Helper()
	seen := map[string]int{}
	cases, cursor := 0, ""
	for {
		page, next, err := st.List(t.Context(), store.ListFilter{After: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			cases++
			if c.ReportCount != len(c.Reports) {
				t.Errorf("case %s: report_count %d but %d reports", c.ID, c.ReportCount, len(c.Reports))
			}
			for _, r := range c.Reports {
				seen[r.ReportID]++
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if cases != urls {
		t.Errorf("%d cases, want one per URL: %d", cases, urls)
	}
	for i := range n {
		if id := fmt.Sprintf(format, i); seen[id] != 1 {
			t.Errorf("report %s is in %d cases, want exactly 1", id, seen[id])
		}
	}
}

func waitAcked(t *testing.T, d *daemon, n uint64) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		c, err := d.js.Consumer(t.Context(), "TAKEDOWN_REPORTS", intake.ConsumerName)
		if err == nil {
			if ci, err := c.Info(t.Context()); err == nil && ci.AckFloor.Stream >= n {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("intake did not ack %d reports within %s", n, waitBound)
}
