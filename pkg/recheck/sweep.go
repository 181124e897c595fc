package recheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// sweepBatch bounds how many schedules one sweep publishes before waiting
// for their acks.
const sweepBatch = 1000

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
			r.log.Warn("sweep schedules", "err", err)
		case n > 0:
			r.log.Info("schedules re-created", "count", n)
		}
	}
}

// Sweep is the safety net for what a crash between two steps leaves
// undone. It sends the follow-up work of recorded checks that died before
// enqueueing it (and drops entries of decisions never recorded). It
// re-creates the schedules of active cases whose next check is unset or
// overdue by more than the sweep grace: a schedule lost between a check
// and its successor (a crash, a purge that raced a reschedule, a check
// given up); one re-created for a time that has passed fires at once. It
// returns how many schedules it re-created.
func (r *Recheck) Sweep(ctx context.Context) (int, error) {
	_, errFollow := r.sweepFollowUps(ctx)
	n, err := r.sweepSchedules(ctx)
	return n, errors.Join(errFollow, err)
}

func (r *Recheck) sweepSchedules(ctx context.Context) (int, error) {
	kv, err := r.store.JetStream().KeyValue(ctx, store.CasesBucket)
	if err != nil {
		return 0, fmt.Errorf("open cases: %w", err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("watch cases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	now := r.now()
	var batch []Due
	total := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.sched.ScheduleMany(ctx, batch)
		total += len(batch)
		batch = batch[:0]
		return err
	}
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil {
			break // the initial values are all read
		}
		var c takedown.Case
		if !store.ValidCaseID(e.Key()) || json.Unmarshal(e.Value(), &c) != nil {
			continue
		}
		if at, ok := r.overdue(&c, now); ok {
			batch = append(batch, Due{CaseID: c.ID, At: at})
		}
		if len(batch) >= sweepBatch {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, flush()
}

// overdue returns the time to schedule a case for when its plan needs
// repair: the planned time when it is overdue (so the fired check is not
// taken for stale), the next cadence slot when there is no plan.
func (r *Recheck) overdue(c *takedown.Case, now time.Time) (time.Time, bool) {
	if !c.Watched() {
		return time.Time{}, false
	}
	if c.Checks == nil || c.Checks.NextCheckAt.IsZero() {
		if c.State == takedown.StateRemoved {
			return time.Time{}, false
		}
		return r.pol.nextSlot(cadenceBase(c), now), true
	}
	if next := c.Checks.NextCheckAt; now.Sub(next) > r.cfg.SweepGrace {
		return next, true
	}
	return time.Time{}, false
}
