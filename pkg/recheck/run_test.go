package recheck

import (
	"context"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
)

// When consuming fails (the consumer of fired checks is deleted behind
// its back), Run stops its sweeper and returns the error at once, for the
// daemon to restart it; it does not block on the sweeper.
func TestRunReturnsWhenConsumingFails(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	st := openStore(t, ns, time.Now)
	r := newRecheck(t, st, testRecheckConfig(), &countingProber{verdict: probe.Online, calls: map[string]int{}}, time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := ns.JS.DeleteConsumer(t.Context(), ScheduleStream, DueConsumer); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil after its consumer was deleted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run ran on (or blocked on the sweeper) after consuming failed")
	}
}
