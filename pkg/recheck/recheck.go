package recheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Durable consumers every replica shares, so each check runs once.
const (
	// DueConsumer reads the checks the schedules fire.
	DueConsumer = "takedownd-recheck"
	// WorkConsumer reads check work: start requests and checks on demand.
	WorkConsumer = "takedownd-check"
)

// Prober is what recheck needs of *probe.Prober.
type Prober interface {
	Probe(ctx context.Context, req probe.Request) probe.Result
}

var _ Prober = (*probe.Prober)(nil)

// Options are what a Recheck is built from.
type Options struct {
	Config config.Recheck
	Store  *store.Store
	Prober Prober
	Retry  broker.Retrier
	Log    *slog.Logger
	// Now is the clock every decision uses, and the source of every
	// schedule time; nil means the store's clock.
	Now func() time.Time
	// UnresolvableEvery is how often an unresolvable host is tried again
	// once enrichment's quick retries are used up (enrich.unresolvable_every);
	// 0: never.
	UnresolvableEvery time.Duration
}

// Recheck runs the re-checks of this replica.
type Recheck struct {
	cfg    config.Recheck
	pol    policy
	store  *store.Store
	sched  *Scheduler
	prober Prober
	retry  broker.Retrier
	log    *slog.Logger
	now    func() time.Time
	due    *store.Consumer
	work   *store.Consumer
	// retryEvery is Options.UnresolvableEvery.
	retryEvery time.Duration
	// followKV is the outbox of follow-up work (followup.go).
	followKV jetstream.KeyValue
	// crashAt, set by tests only, is called at each step of recording a
	// check and its follow-ups; an error stops the check there.
	crashAt func(point string) error
}

// New creates the schedule stream and both durable consumers if needed.
func New(ctx context.Context, opts Options) (*Recheck, error) {
	if opts.Now == nil {
		opts.Now = opts.Store.Now
	}
	sched, err := NewScheduler(ctx, opts.Store)
	if err != nil {
		return nil, err
	}
	r := &Recheck{
		cfg: opts.Config, pol: newPolicy(opts.Config), store: opts.Store, sched: sched,
		prober: opts.Prober, retry: opts.Retry, log: opts.Log, now: opts.Now, retryEvery: opts.UnresolvableEvery,
	}
	r.followKV, err = opts.Store.EnsureKV(ctx, jetstream.KeyValueConfig{
		Bucket:      FollowUpBucket,
		Description: "takedownd re-checks: follow-up work decided and not yet enqueued",
		History:     1,
		Storage:     jetstream.FileStorage,
		// Purged entries leave markers nobody needs; let them expire.
		LimitMarkerTTL: followUpMarkerTTL,
	})
	if err != nil {
		return nil, err
	}
	consumers := []struct {
		c                                 **store.Consumer
		stream, name, filter, description string
	}{
		{&r.due, ScheduleStream, DueConsumer, DuePrefix + "*", "takedownd re-checks fired by schedules"},
		{&r.work, store.WorkStream, WorkConsumer, store.WorkSubject(store.StageCheck, ">"), "takedownd re-checks: start and on demand"},
	}
	for _, c := range consumers {
		*c.c, err = opts.Store.EnsureConsumer(ctx, c.stream, jetstream.ConsumerConfig{
			Durable:       c.name,
			Description:   c.description,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       opts.Config.AckWait,
			MaxDeliver:    opts.Config.MaxDeliver,
			MaxAckPending: opts.Config.Workers * 4,
			FilterSubject: c.filter,
		})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Scheduler is the schedule stream this Recheck uses.
func (r *Recheck) Scheduler() *Scheduler { return r.sched }

// errRetry marks a check that did not look at the material (our own
// per-host limits or shutdown held the probe back): try again soon.
var errRetry = errors.New("probe held back")

// Checkable reports whether a check of the case may run: it is watched
// (takedown.Case.Watched: noticed or forwarded at some point, and open),
// or its first notice is queued.
func Checkable(c takedown.Case) bool { return c.Checkable() }

// retrying reports whether the case's schedule is the slow retry of an
// unresolvable host rather than a probe.
func retrying(c takedown.Case) bool {
	return c.State == takedown.StateUnresolvable && !c.Watched()
}

// Check probes the case now and records the result; trigger says why
// ("schedule", "demand:<who>", …). due is the schedule that fired, if one
// did: a check for a schedule since replaced is skipped. It is safe to run
// for the same case from two replicas at once: one result is recorded,
// and only the recorded decision's follow-up work is enqueued, once.
func (r *Recheck) Check(ctx context.Context, caseID, trigger string, due *Due) error {
	c, _, err := r.store.GetCase(ctx, caseID)
	if errors.Is(err, store.ErrNotFound) {
		r.log.Warn("check of unknown case dropped", "case_id", caseID)
		return nil
	}
	if err != nil {
		return err
	}
	// The previous check may have died between its record and its
	// follow-up work; once this one is recorded, nothing names that work.
	if err := r.recoverFollowUps(ctx, c); err != nil {
		return err
	}
	switch {
	case c.State == takedown.StateClosed:
		return r.sched.Cancel(ctx, caseID)
	case retrying(c):
		return r.retryUnresolvable(ctx, c, due)
	case !Checkable(c):
		// Never noticed and not queued for a notice (in review before any
		// notice went out, say): nothing to look at. The plan goes, so
		// that the case shows no next check it will not have.
		r.log.Debug("check skipped", "case_id", caseID, "state", c.State)
		return r.dropPlan(ctx, caseID)
	case due != nil && c.Checks != nil && !c.Checks.NextCheckAt.IsZero() && !due.At.Equal(c.Checks.NextCheckAt):
		// Stale: rescheduled since. Make sure the current plan is pending
		// (the check that replaced this one may have died before it
		// scheduled), then drop it.
		return r.sched.Schedule(ctx, caseID, c.Checks.NextCheckAt)
	}
	seen := c.CheckCount()
	res := r.prober.Probe(ctx, probe.Request{URL: c.URL, Hashes: probe.Hashes(c.Hashes)})
	if res.Reason == probe.ReasonLocalLimit || res.Reason == probe.ReasonCanceled {
		return fmt.Errorf("check case %s: %w (%s)", caseID, errRetry, res.Reason)
	}
	updated, out, p, err := r.record(ctx, c, seen, res, trigger)
	if err != nil {
		return err
	}
	if !out.recorded {
		return nil // Update swallows ErrNoChange: nothing was recorded
	}
	r.logOutcome(updated, res, out)
	return r.follow(ctx, updated, out, p)
}

// maxDecisions bounds how often one check decides again because the case
// changed under it in a way that changes the decision.
const maxDecisions = 5

// errDecisionChanged stops a compare-and-set whose fresh case leads to
// other follow-up work than the outbox entry written for it.
var errDecisionChanged = errors.New("decision changed")

// record decides what the probe result means for the case c (read when
// the check began, seen checks ago) and records it by compare-and-set.
// A decision with follow-up work writes its outbox entry (followup.go)
// first, and is recorded only as that decision: if the case changed under
// it so that the work would differ, it decides again.
func (r *Recheck) record(ctx context.Context, c takedown.Case, seen int, res probe.Result, trigger string) (takedown.Case, outcome, pending, error) {
	for range maxDecisions {
		now := r.now()
		planned := cloneCase(c)
		p, err := pendingOf(&planned, r.pol.apply(&planned, res, now, trigger))
		if err != nil {
			return c, outcome{}, p, err
		}
		if len(p.Work) > 0 {
			if err := r.putFollowUps(ctx, p); err != nil {
				return c, outcome{}, p, err
			}
		}
		if err := r.fault("planned"); err != nil {
			return c, outcome{}, p, err
		}
		var out outcome
		updated, err := r.store.Update(ctx, c.ID, func(fresh *takedown.Case) ([]takedown.Event, error) {
			out = outcome{}
			if fresh.CheckCount() != seen || !Checkable(*fresh) {
				return nil, store.ErrNoChange // another replica recorded this check
			}
			c = cloneCase(*fresh)
			o := r.pol.apply(fresh, res, now, trigger)
			q, err := pendingOf(fresh, o)
			if err != nil {
				return nil, err
			}
			if (len(p.Work) > 0 || len(q.Work) > 0) && !sameDecision(p, q) {
				return nil, errDecisionChanged
			}
			o.recorded = true
			out = o
			return o.events, nil
		})
		if errors.Is(err, errDecisionChanged) {
			continue
		}
		return updated, out, p, err
	}
	return c, outcome{}, pending{}, fmt.Errorf("check case %s: the case changed under %d decisions in a row", c.ID, maxDecisions)
}

// cloneCase copies what policy.apply changes (the case's own fields and
// its check state), so that a decision can be tried on the copy.
func cloneCase(c takedown.Case) takedown.Case {
	if c.Checks != nil {
		cs := *c.Checks
		c.Checks = &cs
	}
	return c
}

// follow does what a recorded check decided: its follow-up work (then
// the outbox entry goes), and the next check or the end of checks.
func (r *Recheck) follow(ctx context.Context, c takedown.Case, out outcome, p pending) error {
	if err := r.fault("recorded"); err != nil {
		return err
	}
	if len(p.Work) > 0 {
		if err := r.sendFollowUps(ctx, p); err != nil {
			return err
		}
	}
	if out.closed {
		return r.sched.Cancel(ctx, c.ID)
	}
	if !out.next.IsZero() {
		return r.sched.Schedule(ctx, c.ID, out.next)
	}
	return nil
}

// fault lets a test stop a check at a named point, as a crash would.
func (r *Recheck) fault(point string) error {
	if r.crashAt == nil {
		return nil
	}
	return r.crashAt(point)
}

func (r *Recheck) logOutcome(c takedown.Case, res probe.Result, out outcome) {
	switch {
	case out.removed:
		r.log.Info("removal confirmed", "case_id", c.ID, "removed_at", c.Checks.RemovedAt)
	case out.reopened:
		r.log.Info("material reappeared, case reopened", "case_id", c.ID, "reopened", c.Checks.Reopened)
	}
	if out.closed {
		r.log.Info("case closed", "case_id", c.ID)
	}
	for _, s := range out.notify {
		r.log.Info("notify requested", "case_id", c.ID, "kind", s.req.Kind, "level", s.req.Level, "step", s.req.Reminder)
	}
	r.log.Debug("checked", "case_id", c.ID, "verdict", res.Verdict, "reason", res.Reason, "next", out.next)
}

// Begin schedules the first check of a case noticed at noticeAt. A case
// that already has an earlier check pending keeps it. From here on the
// case is watched (CheckState.WatchedSince) until it closes.
func (r *Recheck) Begin(ctx context.Context, caseID string, noticeAt time.Time) error {
	now := r.now()
	first := r.pol.nextSlot(caseID, noticeAt, now)
	c, err := r.store.Update(ctx, caseID, func(c *takedown.Case) ([]takedown.Event, error) {
		if !c.Watched() || c.State == takedown.StateRemoved {
			return nil, store.ErrNoChange
		}
		if c.Checks == nil {
			c.Checks = &takedown.CheckState{}
		}
		since := c.Checks.WatchedSince.IsZero()
		if since {
			c.Checks.WatchedSince = noticeAt.UTC()
		}
		if next := c.Checks.NextCheckAt; next.After(now) && next.Before(first) {
			if since {
				return nil, nil
			}
			return nil, store.ErrNoChange
		}
		c.Checks.NextCheckAt = first
		return nil, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		r.log.Warn("start of unknown case dropped", "case_id", caseID)
		return nil
	}
	if err != nil {
		return err
	}
	if c.Checks == nil || c.Checks.NextCheckAt.IsZero() || !c.Watched() {
		return nil
	}
	r.log.Info("re-checks started", "case_id", caseID, "first_check", c.Checks.NextCheckAt)
	return r.sched.Schedule(ctx, caseID, c.Checks.NextCheckAt)
}
