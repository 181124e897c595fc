package reconcile

import (
	"context"
	"encoding/json"
	"errors"

	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// fakeNotices is a fake of our own Notices: it says which routed cases
// have a notice on its way and records what it was asked to resume.
type fakeNotices struct {
	mu       sync.Mutex
	underway map[string]bool
	resumed  []string
}

func (f *fakeNotices) Underway(_ context.Context, c takedown.Case) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.underway[c.ID], nil
}

func (f *fakeNotices) Resume(_ context.Context, c takedown.Case, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumed = append(f.resumed, c.ID)
	return nil
}

// flakyChecks is a fake of our own Checks that answers "none pending" the
// first time it is asked about a case, and what the real one says after.
type flakyChecks struct {
	real  Checks
	asked sync.Map
}

func (f *flakyChecks) Planned(ctx context.Context, id string) (bool, error) {
	if _, again := f.asked.LoadOrStore(id, true); !again {
		return false, nil
	}
	return f.real.Planned(ctx, id)
}

type env struct {
	t       *testing.T
	js      jetstream.JetStream
	st      *store.Store
	sched   *recheck.Scheduler
	notices *fakeNotices
	seq     atomic.Uint64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.RunCaseIndex(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	sched, err := recheck.NewScheduler(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, js: ns.JS, st: st, sched: sched, notices: &fakeNotices{underway: map[string]bool{}}}
}

func (e *env) reconciler(checks Checks, reg prometheus.Registerer, holder string) *Reconciler {
	e.t.Helper()
	if checks == nil {
		checks = e.sched
	}
	r, err := New(e.t.Context(), Options{
		Store: e.st, Checks: checks, Notices: e.notices, Interval: 50 * time.Millisecond, ConfirmAfter: 50 * time.Millisecond,
		Workers: 4, Holder: holder, Metrics: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// add stores a case and waits until the case index lists it.
func (e *env) add(mut func(*takedown.Case)) string {
	e.t.Helper()
	now := time.Now().UTC()
	id := store.CaseID(now, e.seq.Add(1))
	c := takedown.Case{ID: id, URL: "http://hoster.test/" + id, State: takedown.StateNoticed, ReceivedAt: now,
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now},
		Notices: []takedown.NoticeRef{{Ref: "TD-20301201-AAAAAA", Kind: "first", At: now, Outcome: "sent"}}}
	if mut != nil {
		mut(&c)
	}
	if _, err := e.st.CreateCase(e.t.Context(), c); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, ok := e.st.OpenCaseIDs()
		if ok && slices.Contains(ids, id) || !c.State.Open() && ok {
			return id
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("case index never listed %s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// work returns the bodies of the units of work queued for a stage and case.
func (e *env) work(stage, id string) [][]byte {
	e.t.Helper()
	s, err := e.js.Stream(e.t.Context(), store.WorkStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(e.t.Context(), jetstream.WithSubjectFilter(store.WorkSubject(stage, id)))
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(e.t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		if m.Subject == store.WorkSubject(stage, id) {
			out = append(out, m.Data)
		}
	}
	return out
}

func (e *env) repairedEvents(id string) []takedown.Event {
	e.t.Helper()
	tl, err := e.st.Timeline(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []takedown.Event
	for _, ev := range tl {
		if ev.Type == takedown.EventRepaired {
			out = append(out, ev)
		}
	}
	return out
}

// TestPassRepairsWhatIsMissing: one case per gap the invariant knows, and
// one per way a case has its next step; a pass repairs exactly the gaps,
// each with its unit of work and a repaired event saying what was missing.
func TestPassRepairsWhatIsMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	future := time.Now().Add(time.Hour)
	// Cases that have their next step.
	scheduled := e.add(func(c *takedown.Case) { c.Checks = &takedown.CheckState{NextCheckAt: future} })
	if err := e.sched.Schedule(t.Context(), scheduled, future); err != nil {
		t.Fatal(err)
	}
	inWork := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateReceived, nil })
	if err := e.st.Enqueue(t.Context(), store.StageEnrich, inWork, "enrich-"+inWork+"-new", nil); err != nil {
		t.Fatal(err)
	}
	underway := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateRouted, nil })
	e.notices.underway[underway] = true
	inReview := e.add(func(c *takedown.Case) {
		c.State, c.StateReason, c.Notices = takedown.StateReview, "no working abuse contact", nil
	})
	closed := e.add(func(c *takedown.Case) { c.State = takedown.StateClosed })
	chainOnItsWay := e.add(func(c *takedown.Case) {
		c.Checks = &takedown.CheckState{NextCheckAt: future}
		c.Enrichment = &takedown.Enrichment{EscalationPending: true}
	})
	if err := e.sched.Schedule(t.Context(), chainOnItsWay, future); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Enqueue(t.Context(), takedown.WorkEscalate, chainOnItsWay, "escalate-"+chainOnItsWay+"-new", nil); err != nil {
		t.Fatal(err)
	}

	// Cases that lack it.
	lostSchedule := e.add(func(c *takedown.Case) { c.Checks = &takedown.CheckState{NextCheckAt: future} })
	if err := e.sched.Schedule(t.Context(), lostSchedule, future); err != nil {
		t.Fatal(err)
	}
	// Behind the daemon's back: the schedule purged with the JetStream API.
	checks, err := e.js.Stream(t.Context(), recheck.ScheduleStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := checks.Purge(t.Context(), jetstream.WithPurgeSubject(recheck.SchedulePrefix+lostSchedule)); err != nil {
		t.Fatal(err)
	}
	lostEnrich := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateReceived, nil })
	lostRoute := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateEnriched, nil })
	lostNotice := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateRouted, nil })
	lostRetry := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateUnresolvable, nil })
	noReason := e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateReview, nil })
	reviewUnchecked := e.add(func(c *takedown.Case) {
		c.State, c.StateReason, c.Checks = takedown.StateReview, "every contact failed", &takedown.CheckState{WatchedSince: time.Now()}
	})
	// Noticed with its schedule, but the escalate work that looks up the
	// levels above its hoster is gone.
	lostChain := e.add(func(c *takedown.Case) {
		c.Checks = &takedown.CheckState{NextCheckAt: future}
		c.Enrichment = &takedown.Enrichment{EscalationPending: true}
	})
	if err := e.sched.Schedule(t.Context(), lostChain, future); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	r := e.reconciler(nil, reg, "replica-1")
	res, err := r.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]takedown.Missing{
		lostSchedule: takedown.MissingCheck, lostEnrich: takedown.MissingEnrich, lostRoute: takedown.MissingRoute,
		lostNotice: takedown.MissingNotice, lostRetry: takedown.MissingRetry, noReason: takedown.MissingReason,
		reviewUnchecked: takedown.MissingCheck, lostChain: takedown.MissingEscalation,
	}
	if res.Without != len(want) || res.Repaired != len(want) || res.Open != 13 {
		t.Errorf("pass %+v, want %d of 13 open cases without a next step, all repaired", res, len(want))
	}
	for _, id := range []string{scheduled, inWork, underway, inReview, closed, chainOnItsWay} {
		if evs := e.repairedEvents(id); len(evs) != 0 {
			t.Errorf("case %s had its next step and got %+v", id, evs)
		}
	}
	for id, missing := range want {
		evs := e.repairedEvents(id)
		if len(evs) != 1 || evs[0].Actor != Actor {
			t.Fatalf("case %s (%s missing): repaired events %+v, want one", id, missing, evs)
		}
		var data struct {
			Missing []takedown.Missing `json:"missing"`
		}
		if err := json.Unmarshal(evs[0].Data, &data); err != nil || !slices.Equal(data.Missing, []takedown.Missing{missing}) {
			t.Errorf("case %s: event data %s, want %s missing", id, evs[0].Data, missing)
		}
	}
	for _, tt := range []struct{ id, stage, kind string }{
		{lostSchedule, store.StageCheck, takedown.CheckResume}, {reviewUnchecked, store.StageCheck, takedown.CheckResume},
		{lostRetry, store.StageCheck, takedown.CheckResume}, {lostEnrich, store.StageEnrich, ""}, {lostRoute, store.StageRoute, ""},
		{lostChain, takedown.WorkEscalate, ""},
	} {
		bodies := e.work(tt.stage, tt.id)
		if len(bodies) != 1 {
			t.Errorf("case %s: %d units of %s work, want 1", tt.id, len(bodies), tt.stage)
			continue
		}
		var req takedown.CheckRequest
		if tt.kind != "" && (json.Unmarshal(bodies[0], &req) != nil || req.Kind != tt.kind || req.By != Actor) {
			t.Errorf("case %s: check work %s, want a resume by the reconciler", tt.id, bodies[0])
		}
	}
	if !slices.Equal(e.notices.resumed, []string{lostNotice}) {
		t.Errorf("notices resumed for %v, want %s", e.notices.resumed, lostNotice)
	}
	if c, _, _ := e.st.GetCase(t.Context(), noReason); c.StateReason == "" {
		t.Error("the review case without a reason still has none")
	}
	if got := value(r.metrics.without); got != float64(len(want)) {
		t.Errorf("takedownd_cases_without_next_step = %v, want %d", got, len(want))
	}
	if got := value(r.metrics.repairs.WithLabelValues("check")); got != 2 {
		t.Errorf("check repairs = %v, want 2", got)
	}

	// The next pass finds the repairs in place (the case with no reason
	// has one; work is queued): nothing more, nothing twice.
	res, err = r.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Without != 1 || res.Repaired != 0 {
		// lostNotice stays without: the fake never sets its notice going.
		t.Errorf("second pass %+v, want only the notice the fake never resumes, not repaired twice", res)
	}
}

// TestGapMustLast: a case that gets its next step between the first look
// and the confirming one is not repaired.
func TestGapMustLast(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	future := time.Now().Add(time.Hour)
	id := e.add(func(c *takedown.Case) { c.Checks = &takedown.CheckState{NextCheckAt: future} })
	if err := e.sched.Schedule(t.Context(), id, future); err != nil {
		t.Fatal(err)
	}
	// The first look is told "no check pending", the confirming one the truth.
	r := e.reconciler(&flakyChecks{real: e.sched}, nil, "replica-1")
	res, err := r.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Without != 0 || len(e.repairedEvents(id)) != 0 || len(e.work(store.StageCheck, id)) != 0 {
		t.Errorf("pass %+v repaired a gap that did not last", res)
	}
}

// TestOneReplicaPasses: of two reconcilers on one bucket only the lease
// holder passes; the other shows the holder's result; when the holder
// stops, the other takes over.
func TestOneReplicaPasses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// One gap that stays (the fake never sets a notice going), for the
	// result b shows.
	e.add(func(c *takedown.Case) { c.State, c.Notices = takedown.StateRouted, nil })
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, b := e.reconciler(nil, regA, "replica-a"), e.reconciler(nil, regB, "replica-b")
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	waitFor(t, "replica a's first pass", func() bool { return value(a.metrics.passes) >= 1 })
	ctxB, stopB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(ctxB) }()
	t.Cleanup(func() { stopB(); <-doneB })
	waitFor(t, "replica a's result shown by b", func() bool {
		return value(b.metrics.without) == 1 && value(a.metrics.passes) >= 3
	})
	if n := value(b.metrics.passes); n != 0 {
		t.Fatalf("replica b passed %v times while a held the lease", n)
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica b taking over", func() bool { return value(b.metrics.passes) >= 1 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// value reads a gauge or counter.
func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return -1
	}
	if g := out.GetGauge(); g != nil {
		return g.GetValue()
	}
	return out.GetCounter().GetValue()
}
