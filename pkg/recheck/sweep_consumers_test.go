package recheck

import (
	"context"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestSweepsLeaveNoConsumers: a sweep reads the cases and the follow-ups
// through watchers (ephemeral consumers); each must be gone when the sweep
// returns, also when it is cut short, or a daemon that sweeps every hour
// would fill the server's consumer limit over weeks.
func TestSweepsLeaveNoConsumers(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	r := newRecheck(t, st, testRecheckConfig(), &countingProber{verdict: probe.Online, calls: map[string]int{}}, clock.Now)
	for i := range 300 {
		noticedAt(t, st, caseID(1000+i), "http://hoster.test/s", clock.Now().Add(-48*time.Hour), func(c *takedown.Case) {
			c.Checks = &takedown.CheckState{NextCheckAt: clock.Now().Add(time.Hour)}
		})
	}
	count := func() int {
		ai, err := ns.JS.AccountInfo(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return ai.Consumers
	}
	before := count()
	for range 100 {
		if _, err := r.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// Sweeps stopped at every point of their reading.
	for i := range 50 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i)*100*time.Microsecond)
		_, _ = r.Sweep(ctx)
		cancel()
	}
	// A sweep cancelled while its watcher was being created may leave the
	// server with a push consumer nobody listens to; the server deletes
	// such an ephemeral within seconds, but a loaded machine (CI at load
	// average 20) has taken over 30 s to get there. A leaked one, still
	// listened to, would stay: the bound only has to end the wait.
	deadline := time.Now().Add(2 * time.Minute)
	for count() != before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := count(); got != before {
		t.Errorf("%d consumers after the sweeps, %d before", got, before)
	}
}
