package recheck

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestWatchedInEveryOpenState: a case whose notice went out keeps its
// checks whatever state it moves to afterwards — routed or enriched again,
// under review after a bounce — and its removal is confirmed there. A case
// that was never noticed has nothing to check: its fired check is skipped
// and it shows no next check.
func TestWatchedInEveryOpenState(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	prober := &countingProber{verdict: probe.Gone, calls: map[string]int{}}
	cfg := testRecheckConfig()
	cfg.ConfirmGone = 3
	r := newRecheck(t, st, cfg, prober, clock.Now)
	for i, state := range []takedown.State{takedown.StateReview, takedown.StateEnriched, takedown.StateRouted, takedown.StateReceived} {
		t.Run(string(state), func(t *testing.T) {
			// Not parallel: the cases share the stepped clock.
			id := caseID(2000 + i)
			noticedAt(t, st, id, "http://hoster.test/"+id, clock.Now())
			if err := r.Begin(t.Context(), id, clock.Now()); err != nil {
				t.Fatal(err)
			}
			// A bounce, a re-routing or a person moves it on; its notice
			// no longer counts as delivered.
			moveTo(t, st, id, state, func(c *takedown.Case) { c.Notices[0].Outcome = "failed" })
			for step := range 3 {
				c := getCase(t, st, id)
				if !c.Watched() {
					t.Fatalf("step %d: %s case not watched", step, c.State)
				}
				next := c.Checks.NextCheckAt
				if pending, ok, err := r.Scheduler().Pending(t.Context(), id); err != nil || !ok || !pending.Equal(next) {
					t.Fatalf("step %d: pending schedule %v (%v, %v), want %v", step, pending, ok, err, next)
				}
				clock.Set(next)
				if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: next}); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			c := getCase(t, st, id)
			if c.State != takedown.StateRemoved || c.Checks.Checks != 3 {
				t.Errorf("state %s after %d checks, want removed after 3", c.State, c.Checks.Checks)
			}
			if _, ok, _ := r.Scheduler().Pending(t.Context(), id); !ok {
				t.Error("no stays-gone check pending after the removal")
			}
		})
	}
	t.Run("never noticed", func(t *testing.T) {
		id := caseID(2100)
		noticedAt(t, st, id, "http://hoster.test/"+id, clock.Now(), func(c *takedown.Case) {
			c.State, c.Notices = takedown.StateReview, nil
			c.Checks = &takedown.CheckState{NextCheckAt: clock.Now()}
		})
		if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		c := getCase(t, st, id)
		if c.Checks.Checks != 0 || !c.Checks.NextCheckAt.IsZero() {
			t.Errorf("checks %+v: want no probe and no next check", c.Checks)
		}
		if prober.counts()["http://hoster.test/"+id] != 0 {
			t.Error("a case that was never noticed was probed")
		}
	})
}

// TestUnresolvableSlowRetry: once enrichment's quick retries are used up,
// an unresolvable case has one schedule that asks enrichment for a fresh
// attempt every UnresolvableEvery, for as long as the case stays
// unresolvable; a check for a replaced plan asks for nothing.
func TestUnresolvableSlowRetry(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	prober := &countingProber{verdict: probe.Online, calls: map[string]int{}}
	r, err := New(t.Context(), Options{
		Config: testRecheckConfig(), Store: st, Prober: prober, Retry: testRetry, Log: discardLogger(), Now: clock.Now,
		UnresolvableEvery: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	id := caseID(3000)
	noticedAt(t, st, id, "http://gone.test/a", clock.Now(), func(c *takedown.Case) {
		c.State, c.Notices, c.Routing = takedown.StateUnresolvable, nil, nil
	})
	if err := r.Resume(t.Context(), id, clock.Now()); err != nil {
		t.Fatal(err)
	}
	want := clock.Now().Add(24 * time.Hour)
	if c := getCase(t, st, id); c.Checks == nil || !c.Checks.NextCheckAt.Equal(want) {
		t.Fatalf("plan %+v, want the next retry at %v", c.Checks, want)
	}
	if at, ok, err := r.Scheduler().Pending(t.Context(), id); err != nil || !ok || !at.Equal(want) {
		t.Fatalf("pending schedule %v (%v, %v), want %v", at, ok, err, want)
	}
	work, err := ns.JS.Stream(t.Context(), store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	enrichWork := func() []takedown.EnrichRequest {
		var out []takedown.EnrichRequest
		info, err := work.Info(t.Context(), jetstream.WithSubjectFilter(store.WorkSubject(store.StageEnrich, id)))
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := work.GetMsg(t.Context(), seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != store.WorkSubject(store.StageEnrich, id) {
				continue
			}
			var req takedown.EnrichRequest
			if err := json.Unmarshal(m.Data, &req); err != nil {
				t.Fatal(err)
			}
			out = append(out, req)
		}
		return out
	}
	for day := 1; day <= 2; day++ {
		clock.Set(want)
		if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: want}); err != nil {
			t.Fatal(err)
		}
		if reqs := enrichWork(); len(reqs) != day || reqs[day-1].Reason != takedown.EnrichRetry {
			t.Fatalf("day %d: enrich work %+v, want %d fresh attempts", day, reqs, day)
		}
		want = want.Add(24 * time.Hour)
		if c := getCase(t, st, id); !c.Checks.NextCheckAt.Equal(want) {
			t.Errorf("day %d: next retry %v, want %v", day, c.Checks.NextCheckAt, want)
		}
	}
	// A fired check of a plan replaced since asks for nothing.
	if err := r.Check(t.Context(), id, "schedule", &Due{CaseID: id, At: want.Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if reqs := enrichWork(); len(reqs) != 2 {
		t.Errorf("a stale check asked for enrichment: %+v", reqs)
	}
	if len(prober.counts()) != 0 {
		t.Error("an unresolvable case was probed")
	}
}

// moveTo puts a case in state s by compare-and-set, as another stage would.
func moveTo(tb testing.TB, st *store.Store, id string, s takedown.State, mutate func(*takedown.Case)) {
	tb.Helper()
	_, err := st.Update(tb.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.State = s
		if mutate != nil {
			mutate(c)
		}
		return nil, nil
	})
	if err != nil {
		tb.Fatalf("move case %s to %s: %v", id, s, err)
	}
}

// TestResumePlans: Resume (what the reconciler asks for when a case's
// schedule is lost) schedules each case's plan as it stands: an overdue
// planned time as it is (it fires at once and is not stale), the next
// cadence or "stays gone" slot when nothing is planned, nothing for a case
// with nothing to check (whose stale plan goes).
func TestResumePlans(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	clock := &stepClock{t: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	st := openStore(t, ns, clock.Now)
	r := newRecheck(t, st, testRecheckConfig(), &countingProber{verdict: probe.Online, calls: map[string]int{}}, clock.Now)
	now := clock.Now()
	noticeAt := now.Add(-48 * time.Hour)
	tests := []struct {
		name   string
		mutate func(*takedown.Case)
		want   time.Time // zero: no schedule
	}{
		{"overdue noticed case", func(c *takedown.Case) { c.Checks = &takedown.CheckState{NextCheckAt: now.Add(-time.Hour)} }, now.Add(-time.Hour)},
		{"planned noticed case", func(c *takedown.Case) { c.Checks = &takedown.CheckState{NextCheckAt: now.Add(time.Hour)} }, now.Add(time.Hour)},
		// The third case of the table is caseID(4002): its slots are
		// shifted by its own offset (recheck.spread).
		{"never planned noticed case", nil, r.pol.nextSlot(caseID(4002), noticeAt, now)},
		{"removed case, never planned", func(c *takedown.Case) {
			c.State, c.Checks = takedown.StateRemoved, &takedown.CheckState{RemovedAt: now.Add(-2 * time.Hour)}
		}, now.Add(-2*time.Hour + 24*time.Hour)},
		{"review case never noticed", func(c *takedown.Case) {
			c.State, c.Notices, c.Checks = takedown.StateReview, nil, &takedown.CheckState{NextCheckAt: now}
		}, time.Time{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := caseID(4000 + i)
			noticedAt(t, st, id, "http://hoster.test/r", noticeAt, func(c *takedown.Case) {
				if tt.mutate != nil {
					tt.mutate(c)
				}
			})
			if err := r.Resume(t.Context(), id, now); err != nil {
				t.Fatal(err)
			}
			at, ok, err := r.Scheduler().Pending(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if ok != !tt.want.IsZero() || ok && !at.Equal(tt.want) {
				t.Errorf("schedule %v (pending %v), want %v", at, ok, tt.want)
			}
			c := getCase(t, st, id)
			if tt.want.IsZero() && c.Checks != nil && !c.Checks.NextCheckAt.IsZero() {
				t.Errorf("a case with nothing to check still plans %v", c.Checks.NextCheckAt)
			}
			if !tt.want.IsZero() && (c.Checks == nil || !c.Checks.NextCheckAt.Equal(tt.want) || c.Checks.WatchedSince.IsZero()) {
				t.Errorf("checks %+v, want the plan %v recorded and the case watched", c.Checks, tt.want)
			}
			if planned, err := r.Scheduler().Planned(t.Context(), id); err != nil || planned != !tt.want.IsZero() {
				t.Errorf("Planned = %v (%v), want %v", planned, err, !tt.want.IsZero())
			}
		})
	}
}
