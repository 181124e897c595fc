package recheck

import (
	"context"
	"time"
)

// The sweeper sends the follow-up work of recorded checks whose sender
// died between the record and the enqueue (followup.go), at start and
// every recheck.sweep_interval. A schedule lost between two checks is not
// its business: the reconciler (package reconcile) finds every watched
// case without a pending check, reading only open cases, and asks for its
// plan again (Resume).
func (r *Recheck) sweepLoop(ctx context.Context) {
	// A replica that starts may follow one that died between recording a
	// check and enqueueing its follow-ups: send those now, well inside the
	// work stream's dedup window, not an interval later.
	if _, err := r.sweepFollowUps(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("sweep follow-ups", "err", err)
	}
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Warn("sweep follow-ups", "err", err)
		case n > 0:
			r.log.Info("follow-ups sent by the sweep", "count", n)
		}
	}
}

// Sweep is the safety net for what a crash between recording a check and
// enqueueing its follow-up work leaves undone: it sends that work (and
// drops the entries of decisions never recorded). It returns how many
// entries it sent.
func (r *Recheck) Sweep(ctx context.Context) (int, error) {
	return r.sweepFollowUps(ctx)
}
