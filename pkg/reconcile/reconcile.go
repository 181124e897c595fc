// Package reconcile keeps the promise that no case falls out of the loop:
// it walks the open cases, checks that each has a next step
// (takedown.NextStep: a pending unit of work, a pending check, or a place
// in a person's queue with a reason), and repairs each that has none with
// the unit of work it lacks and a "repaired" event that says what was
// missing. It runs at start and every reconcile.interval on one replica
// at a time (a lease in KV), reads only the open cases the case index
// names, and looks each one's work and checks up by subject — it never
// decodes a closed case. A case is repaired only when it has had no next
// step for reconcile.confirm_after with its record unchanged, so a stage
// between its write and its next unit of work is never taken for a gap.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Actor names the reconciler in events and requests.
const Actor = "reconcile"

// Checks tells whether a case has a check pending (*recheck.Scheduler).
type Checks interface {
	Planned(ctx context.Context, caseID string) (bool, error)
}

// Notices knows whether a routed case's notice is on its way, and sets it
// going again (*notify.Stage).
type Notices interface {
	Underway(ctx context.Context, c takedown.Case) (bool, error)
	Resume(ctx context.Context, c takedown.Case, dedup string) error
}

// Options are what a Reconciler is built from.
type Options struct {
	Store   *store.Store
	Checks  Checks
	Notices Notices
	// Interval is the time between passes, ConfirmAfter how long a gap
	// must last before it is repaired, Workers the cases looked at at once.
	Interval, ConfirmAfter time.Duration
	Workers                int
	// Holder names this replica in the lease; it should stay the same
	// across restarts of the replica, so a restart need not wait for its
	// own old lease to expire.
	Holder  string
	Metrics Registerer
	Log     *slog.Logger
	Now     func() time.Time
}

// Reconciler checks and repairs the next step of every open case.
type Reconciler struct {
	opts    Options
	store   *store.Store
	lease   *lease
	metrics *metrics
	log     *slog.Logger
	now     func() time.Time
	// repaired remembers the revision each case was repaired at, so that
	// a repair that did not take (nothing can be asked for) is not asked
	// again pass after pass; the gauge still counts the case.
	mu       sync.Mutex
	repaired map[string]uint64
}

// Result is what one pass found.
type Result struct {
	// Open is how many open cases the pass looked at.
	Open int
	// Without is how many had no next step, confirmed; Repaired how many
	// of those it asked a next step for (the rest were repaired before,
	// at the same revision, and stay counted).
	Without, Repaired int
	// Missing counts what was missing, by takedown.Missing.
	Missing map[takedown.Missing]int
	At      time.Time
}

// New creates the lease bucket and the metrics.
func New(ctx context.Context, opts Options) (*Reconciler, error) {
	if opts.Store == nil || opts.Checks == nil || opts.Notices == nil {
		return nil, errors.New("new reconciler: store, checks and notices are required")
	}
	if opts.Now == nil {
		opts.Now = opts.Store.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Workers = max(opts.Workers, 1)
	l, err := openLease(ctx, opts.Store, opts.Holder, leaseTTL(opts.Interval, opts.ConfirmAfter), opts.Now)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, err
	}
	return &Reconciler{opts: opts, store: opts.Store, lease: l, metrics: m, log: opts.Log, now: opts.Now, repaired: map[string]uint64{}}, nil
}

// errIndexLoading is a pass asked for before the case index has loaded.
var errIndexLoading = errors.New("the case index is still loading")

// Run passes at start and every Interval while this replica holds the
// lease, until ctx ends; a replica that does not hold it shows the
// holder's last result. At the end it gives the lease up, so another
// replica takes over at its next tick.
func (r *Reconciler) Run(ctx context.Context) error {
	defer r.lease.release(context.WithoutCancel(ctx))
	wait := time.Duration(0)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = r.opts.Interval
		held, last, err := r.lease.hold(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn("reconcile lease", "err", err)
			wait = min(r.opts.Interval, 10*time.Second)
			continue
		case !held:
			r.metrics.show(last)
			continue
		}
		res, err := r.Pass(ctx)
		switch {
		case errors.Is(err, errIndexLoading):
			wait = min(r.opts.Interval, time.Second)
			continue
		case err != nil && ctx.Err() == nil:
			r.log.Warn("reconcile pass", "err", err)
		}
		if err == nil {
			if err := r.lease.record(ctx, res); err != nil && ctx.Err() == nil {
				r.log.Warn("reconcile lease", "err", err)
			}
		}
	}
}

// finding is an open case without a next step, at the revision it was
// seen at.
type finding struct {
	id      string
	rev     uint64
	missing []takedown.Missing
}

// Pass checks every open case once and repairs those that stay without a
// next step for ConfirmAfter. It is what Run does while it holds the lease;
// tests call it directly.
func (r *Reconciler) Pass(ctx context.Context) (Result, error) {
	ids, ok := r.store.OpenCaseIDs()
	if !ok {
		return Result{}, errIndexLoading
	}
	res := Result{Open: len(ids), Missing: map[takedown.Missing]int{}}
	found, err := r.look(ctx, ids)
	if err != nil {
		return res, err
	}
	if len(found) > 0 {
		// A gap must last: look again once the confirm time has passed.
		t := time.NewTimer(r.opts.ConfirmAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
		again := make([]string, len(found))
		for i, f := range found {
			again[i] = f.id
		}
		second, err := r.look(ctx, again)
		if err != nil {
			return res, err
		}
		found = confirmed(found, second)
	}
	seen := map[string]bool{}
	for _, f := range found {
		seen[f.id] = true
		res.Without++
		for _, m := range f.missing {
			res.Missing[m]++
		}
		done, err := r.repair(ctx, f)
		if err != nil {
			return res, err
		}
		if done {
			res.Repaired++
		}
	}
	r.forget(seen)
	res.At = r.now().UTC()
	r.metrics.pass(res)
	if res.Without > 0 {
		r.log.Warn("open cases without a next step", "cases", res.Without, "repaired", res.Repaired, "missing", missingList(res.Missing))
	} else {
		r.log.Debug("every open case has its next step", "open", res.Open)
	}
	return res, nil
}

// look finds the cases among ids that have no next step now.
func (r *Reconciler) look(ctx context.Context, ids []string) ([]finding, error) {
	var mu sync.Mutex
	var found []finding
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Workers)
	for _, id := range ids {
		g.Go(func() error {
			c, rev, err := r.store.GetCase(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			missing, err := r.check(ctx, c)
			if err != nil || len(missing) == 0 {
				return err
			}
			mu.Lock()
			found = append(found, finding{id: id, rev: rev, missing: missing})
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	slices.SortFunc(found, func(a, b finding) int { return strings.Compare(a.id, b.id) })
	return found, nil
}

// check returns what the case lacks, looking up only what its state
// needs (takedown.NextStep decides): a noticed case with its schedule
// costs one look-up, a case in a person's queue none.
func (r *Reconciler) check(ctx context.Context, c takedown.Case) ([]takedown.Missing, error) {
	var p takedown.Pending
	var err error
	watched := c.Watched()
	if watched || c.State == takedown.StateUnresolvable {
		if p.Check, err = r.opts.Checks.Planned(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	// A case still waiting for the levels above its hoster needs its
	// escalate work in the queue, whatever its state.
	escalation := c.Enrichment != nil && c.Enrichment.EscalationPending
	switch c.State {
	case takedown.StateReceived, takedown.StateEnriched, takedown.StateRouted, takedown.StateUnresolvable:
	default:
		if (!watched || p.Check) && !escalation {
			return takedown.NextStep(c, p), nil
		}
	}
	// Check work counts as a pending check; the other stages carry the
	// states that wait for them.
	if p.Work, err = r.store.PendingWork(ctx, c.ID); err != nil {
		return nil, err
	}
	if c.State == takedown.StateRouted && !slices.Contains(p.Work, takedown.WorkRoute) {
		if p.Notice, err = r.opts.Notices.Underway(ctx, c); err != nil {
			return nil, err
		}
	}
	return takedown.NextStep(c, p), nil
}

// confirmed keeps the findings of the first look that the second look
// found again at the same revision: the case did not move meanwhile, and
// still lacks its next step.
func confirmed(first, second []finding) []finding {
	var out []finding
	for _, f := range first {
		i := slices.IndexFunc(second, func(s finding) bool { return s.id == f.id })
		if i >= 0 && second[i].rev == f.rev {
			out = append(out, second[i])
		}
	}
	return out
}

// repair asks for what the case lacks and records on its timeline that
// it did. It reports false for a case it repaired before at the same
// revision (the repair did not take; a person must look).
func (r *Reconciler) repair(ctx context.Context, f finding) (bool, error) {
	r.mu.Lock()
	again := r.repaired[f.id] == f.rev
	r.mu.Unlock()
	if again {
		r.log.Warn("case still without a next step after its repair", "case_id", f.id, "missing", missingNames(f.missing))
		return false, nil
	}
	c, rev, err := r.store.GetCase(ctx, f.id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || rev != f.rev {
		return false, err // it moved since the second look: not a gap
	}
	dedup := "repair-" + strconv.FormatUint(rev, 10)
	var asked []string
	for _, m := range f.missing {
		what, err := r.ask(ctx, c, m, dedup)
		if err != nil {
			return false, fmt.Errorf("repair case %s (%s): %w", f.id, m, err)
		}
		asked = append(asked, what)
		r.metrics.repairs.WithLabelValues(string(m)).Inc()
	}
	ev := takedown.Event{
		ID: "repaired-" + f.id + "-" + strconv.FormatUint(rev, 10), CaseID: f.id, Type: takedown.EventRepaired, Actor: Actor,
		From: c.State, To: c.State,
		Reason: "no next step (" + missingNames(f.missing) + " missing for " + r.opts.ConfirmAfter.String() + "): " + strings.Join(asked, "; "),
	}.WithData(map[string]any{"missing": f.missing, "revision": rev, "asked": asked})
	if slices.Contains(f.missing, takedown.MissingReason) {
		// The reason is the repair itself: written with its event.
		_, err = r.store.Update(ctx, f.id, func(c *takedown.Case) ([]takedown.Event, error) {
			if c.StateReason != "" || (c.State != takedown.StateReview && c.State != takedown.StateNotActionable) {
				return []takedown.Event{ev}, store.ErrNoChange
			}
			c.StateReason = "in " + string(c.State) + " with no reason recorded: a person decides (noted by the reconciler)"
			return []takedown.Event{ev}, nil
		})
	} else {
		err = r.store.AppendEvents(ctx, ev)
	}
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	r.repaired[f.id] = rev
	r.mu.Unlock()
	r.log.Info("case without a next step repaired", "case_id", f.id, "state", c.State, "missing", missingNames(f.missing))
	return true, nil
}

// ask enqueues the unit of work that gives the case what it lacks and
// says what it asked for.
func (r *Reconciler) ask(ctx context.Context, c takedown.Case, m takedown.Missing, dedup string) (string, error) {
	switch m {
	case takedown.MissingEnrich:
		return "enrichment asked for", r.store.Enqueue(ctx, store.StageEnrich, c.ID, "enrich-"+c.ID+"-"+dedup, nil)
	case takedown.MissingRoute:
		return "routing asked for", r.store.Enqueue(ctx, store.StageRoute, c.ID, "route-"+c.ID+"-"+dedup, nil)
	case takedown.MissingNotice:
		return "its notice set going again", r.opts.Notices.Resume(ctx, c, dedup)
	case takedown.MissingRetry, takedown.MissingCheck:
		req := takedown.CheckRequest{Kind: takedown.CheckResume, At: r.now().UTC(), By: Actor}
		body, err := json.Marshal(req)
		if err != nil {
			return "", fmt.Errorf("encode check request: %w", err)
		}
		return "its re-check plan resumed", r.store.Enqueue(ctx, store.StageCheck, c.ID, "check-resume-"+c.ID+"-"+dedup, body)
	case takedown.MissingReason:
		return "a reason recorded", nil
	case takedown.MissingEscalation:
		return "its escalation chain asked for", r.store.Enqueue(ctx, takedown.WorkEscalate, c.ID, "escalate-"+c.ID+"-"+dedup, nil)
	}
	return "", fmt.Errorf("unknown gap %q", m)
}

// forget drops the repairs of cases that have their next step again.
func (r *Reconciler) forget(seen map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.repaired {
		if !seen[id] {
			delete(r.repaired, id)
		}
	}
}

func missingNames(ms []takedown.Missing) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

func missingList(m map[takedown.Missing]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
