package recheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Resume makes sure the case's plan is pending, whatever the plan is: the
// next re-check of a watched case (its planned time, or the next cadence
// or "stays gone" slot when none is planned), or the slow retry of an
// unresolvable host (at+UnresolvableEvery when none is planned). A plan
// already in place is scheduled again as it is: a time that has passed
// fires at once, and is not taken for stale. A case with nothing to check
// loses a planned time it will not keep. It is what enrichment asks for
// after its last quick retry, and what the reconciler asks for when a
// case's schedule is missing.
func (r *Recheck) Resume(ctx context.Context, caseID string, at time.Time) error {
	now := r.now()
	var plan time.Time
	c, err := r.store.Update(ctx, caseID, func(c *takedown.Case) ([]takedown.Event, error) {
		var ok bool
		if plan, ok = r.plan(c, now, at); !ok {
			if c.Checks == nil || c.Checks.NextCheckAt.IsZero() {
				return nil, store.ErrNoChange
			}
			c.Checks.NextCheckAt = time.Time{}
			return nil, nil
		}
		if c.Checks == nil {
			c.Checks = &takedown.CheckState{}
		}
		changed := false
		if c.Watched() && c.Checks.WatchedSince.IsZero() {
			c.Checks.WatchedSince, changed = now.UTC(), true
		}
		if !c.Checks.NextCheckAt.Equal(plan) {
			c.Checks.NextCheckAt, changed = plan, true
		}
		if !changed {
			return nil, store.ErrNoChange
		}
		return nil, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		r.log.Warn("resume of unknown case dropped", "case_id", caseID)
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case c.State == takedown.StateClosed:
		return r.sched.Cancel(ctx, caseID)
	case plan.IsZero():
		return nil
	}
	r.log.Info("re-check plan resumed", "case_id", caseID, "next_check", plan, "state", c.State)
	return r.sched.Schedule(ctx, caseID, plan)
}

// plan is the time the case's pending check should be at, and false when
// the case has nothing to check.
func (r *Recheck) plan(c *takedown.Case, now, at time.Time) (time.Time, bool) {
	var next time.Time
	if c.Checks != nil {
		next = c.Checks.NextCheckAt
	}
	switch {
	case retrying(*c):
		if !next.IsZero() {
			return next, true
		}
		if r.retryEvery <= 0 {
			return time.Time{}, false
		}
		return at.Add(r.retryEvery).UTC(), true
	case !c.Watched():
		return time.Time{}, false
	case !next.IsZero():
		return next, true
	case c.State == takedown.StateRemoved:
		if slot, ok := r.pol.staysGoneSlot(c.ID, c.Checks.RemovedAt, now); ok {
			return slot, true
		}
		// Every "stays gone" check is behind it: the check that fires
		// now closes it.
		return now.Add(minGap).UTC(), true
	}
	return r.pol.nextSlot(c.ID, cadenceBase(c), now).UTC(), true
}

// retryUnresolvable runs the slow retry of an unresolvable host: it asks
// enrichment for a fresh attempt, then plans the next retry. due is the
// schedule that fired (nil for a retry on demand).
func (r *Recheck) retryUnresolvable(ctx context.Context, c takedown.Case, due *Due) error {
	var planned time.Time
	if c.Checks != nil {
		planned = c.Checks.NextCheckAt
	}
	if due != nil && !planned.IsZero() && !due.At.Equal(planned) {
		// Stale: replanned since. Make sure the current plan is pending.
		return r.sched.Schedule(ctx, c.ID, planned)
	}
	now := r.now()
	attempt := now
	if due != nil {
		attempt = due.At
	}
	// The enrich work first: a crash before the new plan is recorded
	// leaves the fired check unacked, and its redelivery asks again under
	// the same id.
	body, err := json.Marshal(takedown.EnrichRequest{Reason: takedown.EnrichRetry, At: attempt.UTC()})
	if err != nil {
		return fmt.Errorf("encode enrich request: %w", err)
	}
	dedup := "enrich-" + c.ID + "-retry-" + strconv.FormatInt(attempt.UnixMilli(), 10)
	if err := r.store.Enqueue(ctx, store.StageEnrich, c.ID, dedup, body); err != nil {
		return err
	}
	r.log.Info("unresolvable host tried again", "case_id", c.ID)
	if r.retryEvery <= 0 {
		return r.dropPlan(ctx, c.ID)
	}
	next := now.Add(r.retryEvery).UTC()
	updated, err := r.store.Update(ctx, c.ID, func(fresh *takedown.Case) ([]takedown.Event, error) {
		if !retrying(*fresh) {
			return nil, store.ErrNoChange // resolved meanwhile: its own plan follows
		}
		if fresh.Checks == nil {
			fresh.Checks = &takedown.CheckState{}
		}
		if !fresh.Checks.NextCheckAt.Equal(planned) {
			return nil, store.ErrNoChange // another replica planned it
		}
		fresh.Checks.NextCheckAt = next
		return nil, nil
	})
	if err != nil || !retrying(updated) || updated.Checks == nil || updated.Checks.NextCheckAt.IsZero() {
		return err
	}
	return r.sched.Schedule(ctx, c.ID, updated.Checks.NextCheckAt)
}

// dropPlan clears the planned time of a case that has nothing to check,
// so that it shows no next check it will not have.
func (r *Recheck) dropPlan(ctx context.Context, caseID string) error {
	_, err := r.store.Update(ctx, caseID, func(c *takedown.Case) ([]takedown.Event, error) {
		if c.Checks == nil || c.Checks.NextCheckAt.IsZero() || Checkable(*c) || retrying(*c) && r.retryEvery > 0 {
			return nil, store.ErrNoChange
		}
		c.Checks.NextCheckAt = time.Time{}
		return nil, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
