package recheck

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestHosterScenarios drives checks against a simulated hoster with a
// stepped clock: each step switches the hoster's answer, moves the clock
// to the case's next planned check and runs it, as a fired schedule would.
func TestHosterScenarios(t *testing.T) {
	t.Parallel()
	var (
		content  = hostersim.Content([]byte("confirmed material"))
		notFound = hostersim.Status(http.StatusNotFound)
	)
	tests := []struct {
		name      string
		steps     []hostersim.Behaviour
		wantState takedown.State
		wantVerd  probe.Verdict
		// wantRemovedStep is the step whose time is the removal time (-1: none).
		wantRemovedStep int
	}{
		{"online, then 404 until removal is confirmed", []hostersim.Behaviour{content, notFound, notFound, notFound}, takedown.StateRemoved, probe.Gone, 1},
		{"flapping between online and 404", []hostersim.Behaviour{content, notFound, content, notFound, content}, takedown.StateNoticed, probe.Online, -1},
		{"timeouts are inconclusive", []hostersim.Behaviour{hostersim.Hang(), hostersim.Hang(), hostersim.Hang()}, takedown.StateNoticed, probe.Inconclusive, -1},
		{"503 between misses neither breaks nor extends the streak",
			[]hostersim.Behaviour{notFound, hostersim.Status(http.StatusServiceUnavailable), notFound, notFound}, takedown.StateRemoved, probe.Gone, 0},
		{"redirect to another site's root is gone",
			[]hostersim.Behaviour{hostersim.Redirect(http.StatusFound, "http://elsewhere.test/"), hostersim.Redirect(http.StatusFound, "http://elsewhere.test/"),
				hostersim.Redirect(http.StatusFound, "http://elsewhere.test/")}, takedown.StateRemoved, probe.Gone, 0},
	}
	ns := natstest.Start(t)
	srv := hostersim.Start(t)
	srv.Set("/", content)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	// A hoster that hangs is inconclusive once the probe times out, so the
	// cases that want that verdict get a short timeout; the others one no
	// answer on loopback reaches, even on a busy 2-core machine (300 ms
	// was reached: a 404 came out inconclusive).
	newProber := func(timeout time.Duration) *probe.Prober {
		p, err := probe.New(probe.Config{
			AllowPrivate: true, PerHostRate: -1, ProbeTimeout: timeout, ResponseHeaderTimeout: timeout,
			ConnectTo: map[string]string{"hoster.test:80": srv.Addr(), "elsewhere.test:80": srv.Addr()},
		}, discardLogger(), clock.Now, noDNS{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	quick, patient := newProber(300*time.Millisecond), newProber(time.Minute)
	prober := &chosenProber{}
	r := newRecheck(t, st, testRecheckConfig(), prober, clock.Now)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the stepped clock (and prober).
			prober.p = patient
			if tt.wantVerd == probe.Inconclusive {
				prober.p = quick
			}
			id := caseID(1000 + i)
			path := "/" + id
			noticedAt(t, st, id, "http://hoster.test"+path, clock.Now())
			if err := r.Begin(t.Context(), id, clock.Now()); err != nil {
				t.Fatalf("begin: %v", err)
			}
			var stepTimes []time.Time
			for j, b := range tt.steps {
				srv.Set(path, b)
				c := getCase(t, st, id)
				next := c.Checks.NextCheckAt
				if pending, ok, err := r.Scheduler().Pending(t.Context(), id); err != nil || !ok || !pending.Equal(next) {
					t.Fatalf("step %d: pending schedule %v (%v, %v), want %v", j, pending, ok, err, next)
				}
				clock.Set(next)
				stepTimes = append(stepTimes, next)
				if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: next}); err != nil {
					t.Fatalf("step %d: check: %v", j, err)
				}
			}
			c := getCase(t, st, id)
			if c.State != tt.wantState || c.Checks.LastVerdict != string(tt.wantVerd) {
				t.Errorf("state %s, last verdict %s; want %s, %s", c.State, c.Checks.LastVerdict, tt.wantState, tt.wantVerd)
			}
			if c.Checks.Checks != len(tt.steps) {
				t.Errorf("%d checks recorded, want %d", c.Checks.Checks, len(tt.steps))
			}
			if tt.wantRemovedStep >= 0 && !c.Checks.RemovedAt.Equal(stepTimes[tt.wantRemovedStep]) {
				t.Errorf("removed at %v, want %v (step %d)", c.Checks.RemovedAt, stepTimes[tt.wantRemovedStep], tt.wantRemovedStep)
			}
			events, err := st.Timeline(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if checked := countEvents(events, takedown.EventChecked); checked != len(tt.steps) {
				t.Errorf("%d checked events, want %d", checked, len(tt.steps))
			}
			if removed := hasEvent(events, takedown.EventRemoved); removed != (tt.wantState == takedown.StateRemoved) {
				t.Errorf("removed event present = %v in %v", removed, eventTypes(events))
			}
		})
	}
}

// chosenProber probes with the prober a test case chose.
type chosenProber struct{ p *probe.Prober }

func (c *chosenProber) Probe(ctx context.Context, req probe.Request) probe.Result {
	return c.p.Probe(ctx, req)
}

// TestCloseCancelsSchedule: the last "stays gone" check closes the case
// and leaves nothing pending.
func TestCloseCancelsSchedule(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	r := newRecheck(t, st, testRecheckConfig(), &countingProber{verdict: probe.Gone, calls: map[string]int{}}, clock.Now)
	id := caseID(7)
	removedAt := clock.Now().Add(-30 * 24 * time.Hour)
	noticedAt(t, st, id, "http://hoster.test/x", removedAt.Add(-time.Hour), func(c *takedown.Case) {
		c.State = takedown.StateRemoved
		c.Checks = &takedown.CheckState{RemovedAt: removedAt, NextCheckAt: clock.Now(), Checks: 5}
	})
	if err := r.Scheduler().Schedule(t.Context(), id, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if c := getCase(t, st, id); c.State != takedown.StateClosed || !c.Checks.NextCheckAt.IsZero() {
		t.Errorf("state %s, next %v; want closed with no next check", c.State, c.Checks.NextCheckAt)
	}
	if _, ok, err := r.Scheduler().Pending(t.Context(), id); err != nil || ok {
		t.Errorf("schedule still pending after close (%v)", err)
	}
	// A check that fires for a closed case probes nothing.
	p := r.prober.(*countingProber)
	before := p.counts()["http://hoster.test/x"]
	if err := r.Check(t.Context(), id, "schedule", nil); err != nil {
		t.Fatal(err)
	}
	if after := p.counts()["http://hoster.test/x"]; after != before {
		t.Errorf("closed case probed again (%d → %d)", before, after)
	}
}

// TestUnchangedChecksKeepTheirSchedule: a check that leaves nothing on the
// timeline (recheck.record_unchanged) is still recorded on the case and
// schedules the next one, and the timeline holds one "checked" event per
// window of unchanged checks.
func TestUnchangedChecksKeepTheirSchedule(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	cfg := testRecheckConfig()
	cfg.Cadence, cfg.Every = []time.Duration{24 * time.Hour}, 24*time.Hour
	cfg.Early = config.Early{Every: 10 * time.Minute, Until: 72 * time.Hour}
	cfg.RecordUnchanged = 4 * time.Hour
	r := newRecheck(t, st, cfg, &countingProber{verdict: probe.Online, calls: map[string]int{}}, clock.Now)
	id := caseID(3000)
	noticedAt(t, st, id, "http://hoster.test/u", clock.Now())
	if err := r.Begin(t.Context(), id, clock.Now()); err != nil {
		t.Fatal(err)
	}
	const checks = 40 // 6 h 40 min of checks every 10 minutes
	windows := map[time.Time]bool{}
	for j := range checks {
		next := getCase(t, st, id).Checks.NextCheckAt
		if pending, ok, err := r.Scheduler().Pending(t.Context(), id); err != nil || !ok || !pending.Equal(next) {
			t.Fatalf("check %d: pending schedule %v (%v, %v), want %v", j, pending, ok, err, next)
		}
		windows[next.Truncate(cfg.RecordUnchanged)] = true
		clock.Set(next)
		if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: next}); err != nil {
			t.Fatalf("check %d: %v", j, err)
		}
	}
	c := getCase(t, st, id)
	if c.Checks.Checks != checks || !c.Checks.LastOnlineAt.Equal(clock.Now()) {
		t.Errorf("case holds %d checks, last online %v; want %d, %v", c.Checks.Checks, c.Checks.LastOnlineAt, checks, clock.Now())
	}
	events, err := st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if checked := countEvents(events, takedown.EventChecked); checked != len(windows) {
		t.Errorf("%d checked events for %d checks over %d windows of %s, want one per window", checked, checks, len(windows), cfg.RecordUnchanged)
	}
}

func countEvents(evs []takedown.Event, typ takedown.EventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}
