package recheck

import (
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/takedown"
)

var t0 = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

func testPolicy() policy { return newPolicy(config.Default().Recheck) }

func noticedCase(kind string) *takedown.Case {
	return &takedown.Case{
		ID: "0000000000000001", URL: "http://host.test/x", State: takedown.StateNoticed, ReceivedAt: t0.Add(-time.Hour),
		Routing: &takedown.Routing{Kind: kind, At: t0.Add(-time.Minute)},
		Notices: []takedown.NoticeRef{{Kind: "first", At: t0}},
	}
}

// classicConfig is the cadence the scenarios below are written against:
// checks 15m, 1h, 4h, 12h and 24h after the notice, then daily, at those
// exact times, no early checks, every check on the timeline. The
// scenarios are about streaks, removals and reopening; the default
// cadence has tests of its own.
func classicConfig() config.Recheck {
	cfg := config.Default().Recheck
	cfg.Cadence = []time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	cfg.Every = 24 * time.Hour
	cfg.Early = config.Early{}
	cfg.Spread = 0
	cfg.RecordUnchanged = 0
	return cfg
}

// earlyConfig checks every 10 minutes for the first 72 hours, once at
// 24h and daily after, each case at its offset below 10 minutes.
func earlyConfig() config.Recheck {
	cfg := classicConfig()
	cfg.Cadence = []time.Duration{24 * time.Hour}
	cfg.Early = config.Early{Every: 10 * time.Minute, Until: 72 * time.Hour}
	cfg.Spread = 10 * time.Minute
	return cfg
}

func TestNextSlot(t *testing.T) {
	t.Parallel()
	const m, h = time.Minute, time.Hour
	id := "0000000000000001"
	ph := slotOffset(id, 10*m)
	if ph != 90*time.Second {
		t.Fatalf("offset of %s is %s; the table below is written for 1m30s", id, ph)
	}
	spreadClassic := classicConfig()
	spreadClassic.Spread = 10 * m
	classic, shifted, early := newPolicy(classicConfig()), newPolicy(spreadClassic), newPolicy(earlyConfig())
	tests := []struct {
		name string
		p    policy
		now  time.Duration
		want time.Duration
	}{
		{"classic at notice", classic, 0, 15 * m},
		{"classic after first", classic, 20 * m, h},
		{"classic after 12h", classic, 13 * h, 24 * h},
		{"classic exactly at 24h", classic, 24 * h, 48 * h},
		{"classic days later", classic, 100 * h, 120 * h},
		{"classic: a slot half a second away is kept, a second from now", classic, 15*m - time.Second/2, 15*m + time.Second/2},
		{"shifted classic at notice", shifted, 0, 15*m + ph},
		{"shifted classic days later", shifted, 100 * h, 120*h + ph},
		{"early at notice: its offset", early, 0, ph},
		{"early on its tick: the next", early, ph, ph + 10*m},
		{"early half a second before its tick: a second later", early, ph - time.Second/2, ph + time.Second/2},
		{"early mid-interval", early, 5 * h, 5*h + ph},
		{"early: the 24h slot", early, 24*h + ph - 5*time.Second, 24*h + ph},
		{"early: the last tick is at 72h", early, 72*h - time.Second, 72*h + ph},
		{"early over: daily from the last offset", early, 72*h + ph, 96*h + ph},
		{"early over, days later", early, 100 * h, 120*h + ph},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.nextSlot(id, t0, t0.Add(tt.now)); !got.Equal(t0.Add(tt.want)) {
				t.Errorf("nextSlot(+%s) = +%s, want +%s", tt.now, got.Sub(t0), tt.want)
			}
		})
	}
}

// The check slots of cases noticed together spread over recheck.spread:
// 6,000 ids over 10 minutes, no minute with far more than its share.
func TestSlotOffsetsSpread(t *testing.T) {
	t.Parallel()
	const n, spread = 6000, 10 * time.Minute
	var perMinute [10]int
	for i := range n {
		ph := slotOffset(caseID(i+1), spread)
		if ph < 0 || ph >= spread || ph%time.Second != 0 {
			t.Fatalf("offset of %s is %s, want whole seconds in [0, %s)", caseID(i+1), ph, spread)
		}
		perMinute[ph/time.Minute]++
	}
	for i, got := range perMinute {
		// 600 expected; 4 standard deviations is about ±93.
		if got < 500 || got > 700 {
			t.Errorf("minute %d of the spread holds %d of %d offsets, want about 600: %v", i, got, n, perMinute)
		}
	}
	if got := slotOffset(caseID(1), 0); got != 0 {
		t.Errorf("offset with no spread: %s", got)
	}
}

// check is one probe result fed to apply at t0+at, with what must hold after.
type check struct {
	at        time.Duration
	verdict   probe.Verdict
	wantState takedown.State
	wantNext  time.Duration // offset from t0; -1: no next check
	wantEvent takedown.EventType
}

func TestApplyScenarios(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	tests := []struct {
		name   string
		kind   string
		checks []check
		// check after the run
		wantRemovedAt, wantLastOnline time.Duration
		wantReopened                  int
	}{
		{
			name: "online then gone confirmed by three spaced misses",
			checks: []check{
				{15 * m, probe.Online, takedown.StateNoticed, time.Hour, ""},
				{60 * m, probe.Gone, takedown.StateNoticed, 63 * m, ""},
				{63 * m, probe.Gone, takedown.StateNoticed, 66 * m, ""},
				{66 * m, probe.Gone, takedown.StateRemoved, 60*m + 24*time.Hour, takedown.EventRemoved},
			},
			wantRemovedAt: 60 * m, wantLastOnline: 15 * m,
		},
		{
			name: "a miss too soon after the last does not count",
			checks: []check{
				{60 * m, probe.Gone, takedown.StateNoticed, 63 * m, ""},
				{61 * m, probe.Gone, takedown.StateNoticed, 64 * m, ""},
				{64 * m, probe.Gone, takedown.StateNoticed, 67 * m, ""},
				{67 * m, probe.Gone, takedown.StateRemoved, 60*m + 24*time.Hour, takedown.EventRemoved},
			},
			wantRemovedAt: 60 * m,
		},
		{
			name: "inconclusive neither breaks nor extends the streak",
			checks: []check{
				{60 * m, probe.Gone, takedown.StateNoticed, 63 * m, ""},
				{63 * m, probe.Inconclusive, takedown.StateNoticed, 66 * m, ""},
				{66 * m, probe.Gone, takedown.StateNoticed, 69 * m, ""},
				{69 * m, probe.Gone, takedown.StateRemoved, 60*m + 24*time.Hour, takedown.EventRemoved},
			},
			wantRemovedAt: 60 * m,
		},
		{
			name: "flapping resets the streak",
			checks: []check{
				{60 * m, probe.Gone, takedown.StateNoticed, 63 * m, ""},
				{63 * m, probe.Online, takedown.StateNoticed, 4 * time.Hour, ""},
				{4 * 60 * m, probe.Gone, takedown.StateNoticed, 4*60*m + 3*m, ""},
				{4*60*m + 3*m, probe.Gone, takedown.StateNoticed, 4*60*m + 6*m, ""},
			},
			wantLastOnline: 63 * m,
		},
		{
			name: "stays gone, then closes",
			checks: []check{
				{0, probe.Gone, takedown.StateNoticed, 3 * m, ""},
				{3 * m, probe.Gone, takedown.StateNoticed, 6 * m, ""},
				{6 * m, probe.Gone, takedown.StateRemoved, 24 * time.Hour, takedown.EventRemoved},
				{24 * time.Hour, probe.Gone, takedown.StateRemoved, 7 * 24 * time.Hour, ""},
				{7 * 24 * time.Hour, probe.Inconclusive, takedown.StateRemoved, 30 * 24 * time.Hour, ""},
				{30 * 24 * time.Hour, probe.Gone, takedown.StateClosed, -1, takedown.EventClosed},
			},
		},
		{
			name: "material that comes back reopens the case",
			checks: []check{
				{0, probe.Gone, takedown.StateNoticed, 3 * m, ""},
				{3 * m, probe.Gone, takedown.StateNoticed, 6 * m, ""},
				{6 * m, probe.Gone, takedown.StateRemoved, 24 * time.Hour, takedown.EventRemoved},
				{24 * time.Hour, probe.Online, takedown.StateNoticed, 24*time.Hour + 15*m, takedown.EventReopened},
			},
			wantRemovedAt: 0, wantLastOnline: 24 * time.Hour, wantReopened: 1,
		},
		{
			name: "a partner case reopens as forwarded",
			kind: takedown.RoutePartner,
			checks: []check{
				{0, probe.Gone, takedown.StateNoticed, 3 * m, ""},
				{3 * m, probe.Gone, takedown.StateNoticed, 6 * m, ""},
				{6 * m, probe.Gone, takedown.StateRemoved, 24 * time.Hour, takedown.EventRemoved},
				{25 * time.Hour, probe.Online, takedown.StateForwarded, 25*time.Hour + 15*m, takedown.EventReopened},
			},
			wantLastOnline: 25 * time.Hour, wantReopened: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPolicy(classicConfig())
			kind := tt.kind
			if kind == "" {
				kind = takedown.RouteHoster
			}
			c := noticedCase(kind)
			for i, ck := range tt.checks {
				before := c.State
				out := p.apply(c, probe.Result{Verdict: ck.verdict, Reason: "test"}, t0.Add(ck.at), "test")
				if before != c.State && !before.CanMoveTo(c.State) {
					t.Fatalf("check %d: move %s → %s not in the transition table", i, before, c.State)
				}
				if c.State != ck.wantState {
					t.Errorf("check %d: state %s, want %s", i, c.State, ck.wantState)
				}
				wantNext := t0.Add(ck.wantNext)
				if ck.wantNext < 0 {
					wantNext = time.Time{}
				}
				if !out.next.Equal(wantNext) || !c.Checks.NextCheckAt.Equal(wantNext) {
					t.Errorf("check %d: next %v, want %v", i, out.next, wantNext)
				}
				if out.events[0].Type != takedown.EventChecked {
					t.Errorf("check %d: first event %s, want checked", i, out.events[0].Type)
				}
				if ck.wantEvent != "" && !hasEvent(out.events, ck.wantEvent) {
					t.Errorf("check %d: no %s event in %v", i, ck.wantEvent, eventTypes(out.events))
				}
			}
			cs := c.Checks
			if tt.wantRemovedAt != 0 || c.State == takedown.StateRemoved {
				if !cs.RemovedAt.Equal(t0.Add(tt.wantRemovedAt)) {
					t.Errorf("removed at +%s, want +%s", cs.RemovedAt.Sub(t0), tt.wantRemovedAt)
				}
			}
			if tt.wantLastOnline != 0 && !cs.LastOnlineAt.Equal(t0.Add(tt.wantLastOnline)) {
				t.Errorf("last online +%s, want +%s", cs.LastOnlineAt.Sub(t0), tt.wantLastOnline)
			}
			if cs.Reopened != tt.wantReopened {
				t.Errorf("reopened %d, want %d", cs.Reopened, tt.wantReopened)
			}
			if cs.Checks != len(tt.checks) {
				t.Errorf("checks %d, want %d", cs.Checks, len(tt.checks))
			}
		})
	}
}

func hasEvent(evs []takedown.Event, typ takedown.EventType) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func eventTypes(evs []takedown.Event) []takedown.EventType {
	out := make([]takedown.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestRemindersAndEscalation(t *testing.T) {
	t.Parallel()
	const d = 24 * time.Hour
	type want struct{ kind, level string }
	tests := []struct {
		name string
		kind string
		// one online check per day at +1d, +2d, …; want[i] is the step of day i+1
		want []want
	}{
		{
			name: "hoster: two reminders per level, then upstream, registrar, authority",
			kind: takedown.RouteHoster,
			want: []want{
				{NotifyReminder, "hoster"}, {NotifyReminder, "hoster"}, {NotifyEscalation, LevelUpstream},
				{NotifyReminder, LevelUpstream}, {NotifyReminder, LevelUpstream}, {NotifyEscalation, LevelRegistrar},
				{NotifyReminder, LevelRegistrar}, {NotifyReminder, LevelRegistrar}, {NotifyEscalation, LevelAuthority},
				{NotifyReminder, LevelAuthority}, {NotifyReminder, LevelAuthority}, {NotifyReminder, LevelAuthority},
			},
		},
		{
			name: "partner: reminders only",
			kind: takedown.RoutePartner,
			want: []want{{NotifyReminder, "partner"}, {NotifyReminder, "partner"}, {NotifyReminder, "partner"}, {NotifyReminder, "partner"}},
		},
		{
			name: "cdn: registrar after two reminders",
			kind: takedown.RouteCDN,
			want: []want{{NotifyReminder, "cdn"}, {NotifyReminder, "cdn"}, {NotifyEscalation, LevelRegistrar}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := testPolicy()
			c := noticedCase(tt.kind)
			// Online before the first day is over: nothing is due yet.
			if out := p.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(23*time.Hour), "test"); len(out.notify) != 0 {
				t.Fatalf("step before the first interval: %+v", out.notify)
			}
			ids := map[string]bool{}
			for i, w := range tt.want {
				now := t0.Add(time.Duration(i+1) * d)
				out := p.apply(c, probe.Result{Verdict: probe.Online}, now, "test")
				if len(out.notify) != 1 {
					t.Fatalf("day %d: %d notify requests, want 1", i+1, len(out.notify))
				}
				got := out.notify[0]
				if got.req.Kind != w.kind || got.req.Level != w.level || got.req.Reminder != i+1 {
					t.Errorf("day %d: %s to %s (#%d), want %s to %s (#%d)", i+1, got.req.Kind, got.req.Level, got.req.Reminder, w.kind, w.level, i+1)
				}
				wantEv := takedown.EventReminder
				if w.kind == NotifyEscalation {
					wantEv = takedown.EventEscalated
				}
				if !hasEvent(out.events, wantEv) {
					t.Errorf("day %d: no %s event in %v", i+1, wantEv, eventTypes(out.events))
				}
				if ids[got.dedup] {
					t.Errorf("day %d: dedup id %s reused", i+1, got.dedup)
				}
				ids[got.dedup] = true
			}
		})
	}
}

func TestNoReminderWhileGoneOrBeforeReappearanceNotice(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := noticedCase(takedown.RouteHoster)
	if out := p.apply(c, probe.Result{Verdict: probe.Gone}, t0.Add(25*time.Hour), "test"); len(out.notify) != 0 {
		t.Errorf("gone result asked for %+v", out.notify)
	}
	// Removed at +25h, back at +50h: the reappearance request goes out,
	// but no reminder until the notify stage recorded that notice.
	c.State, c.Checks.RemovedAt = takedown.StateRemoved, t0.Add(25*time.Hour)
	out := p.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(50*time.Hour), "test")
	if len(out.notify) != 1 || out.notify[0].req.Kind != NotifyReappeared {
		t.Fatalf("reopen asked for %+v, want one reappeared request", out.notify)
	}
	if out := p.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(80*time.Hour), "test"); len(out.notify) != 0 {
		t.Errorf("reminder before the reappearance notice: %+v", out.notify)
	}
	c.Notices = append(c.Notices, takedown.NoticeRef{Kind: NotifyReappeared, At: t0.Add(51 * time.Hour)})
	out = p.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(75*time.Hour), "test")
	if len(out.notify) != 1 || out.notify[0].req.Kind != NotifyReminder {
		t.Errorf("24h after the reappearance notice got %+v, want a reminder", out.notify)
	}
}

// The first confirmed removal stays when the material comes back and is
// removed again: the statistics count the time a hoster took from it.
func TestFirstRemovalIsKept(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := noticedCase(takedown.RouteHoster)
	removeAt := func(start time.Duration) {
		for i := range 3 {
			p.apply(c, probe.Result{Verdict: probe.Gone}, t0.Add(start+time.Duration(i)*4*time.Minute), "test")
		}
		if c.State != takedown.StateRemoved {
			t.Fatalf("not removed after gone results from +%s: %s", start, c.State)
		}
	}
	removeAt(time.Hour)
	p.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(30*time.Hour), "test")
	if c.State != takedown.StateNoticed || c.Checks.Reopened != 1 {
		t.Fatalf("after the material came back: %s, reopened %d", c.State, c.Checks.Reopened)
	}
	removeAt(40 * time.Hour)
	if cs := c.Checks; !cs.FirstRemovedAt.Equal(t0.Add(time.Hour)) || !cs.RemovedAt.Equal(t0.Add(40*time.Hour)) {
		t.Errorf("first removal +%s, removal +%s; want +1h and +40h", cs.FirstRemovedAt.Sub(t0), cs.RemovedAt.Sub(t0))
	}
}

// With record_unchanged, an online check after an online one that decides
// nothing else stays off the timeline within its window; the case still
// counts it, and anything that is news is recorded.
func TestUnchangedChecksStayOffTheTimeline(t *testing.T) {
	t.Parallel()
	const m, h = time.Minute, time.Hour
	cfg := earlyConfig()
	cfg.RecordUnchanged = 4 * h
	p := newPolicy(cfg)
	c := noticedCase(takedown.RouteHoster) // noticed at t0, 03:00 UTC
	steps := []struct {
		name     string
		at       time.Duration
		verdict  probe.Verdict
		trigger  string
		recorded bool
	}{
		{"first check", 10 * m, probe.Online, triggerSchedule, true},
		{"online again in the same window", 20 * m, probe.Online, triggerSchedule, false},
		{"and again", 30 * m, probe.Online, triggerSchedule, false},
		{"asked for by a person", 35 * m, probe.Online, "demand:analyst", true},
		{"first of the 04:00 window", 70 * m, probe.Online, triggerSchedule, true},
		{"inside it", 80 * m, probe.Online, triggerSchedule, false},
		{"inconclusive", 90 * m, probe.Inconclusive, triggerSchedule, true},
		{"online after inconclusive", 100 * m, probe.Online, triggerSchedule, true},
		{"gone", 110 * m, probe.Gone, triggerSchedule, true},
		{"back online", 113 * m, probe.Online, triggerSchedule, true},
		{"unchanged", 120 * m, probe.Online, triggerSchedule, false},
		{"first of its window, a day later", 24*h - 5*m, probe.Online, triggerSchedule, true},
		{"the 24h reminder, in the same window", 24 * h, probe.Online, triggerSchedule, true},
		{"unchanged after it", 24*h + 10*m, probe.Online, triggerSchedule, false},
	}
	for i, s := range steps {
		out := p.apply(c, probe.Result{Verdict: s.verdict, Reason: "test"}, t0.Add(s.at), s.trigger)
		if got := len(out.events) > 0 && out.events[0].Type == takedown.EventChecked; got != s.recorded {
			t.Errorf("step %d (%s): checked event %v, want %v (events %v)", i, s.name, got, s.recorded, eventTypes(out.events))
		}
		if c.Checks.Checks != i+1 || !c.Checks.LastCheckedAt.Equal(t0.Add(s.at)) {
			t.Errorf("step %d (%s): case holds %d checks, last at %v; want %d at %v", i, s.name, c.Checks.Checks, c.Checks.LastCheckedAt, i+1, t0.Add(s.at))
		}
		if out.next.IsZero() || !c.Checks.NextCheckAt.Equal(out.next) {
			t.Errorf("step %d (%s): next %v, planned %v", i, s.name, out.next, c.Checks.NextCheckAt)
		}
	}
	// 0 records every check.
	c = noticedCase(takedown.RouteHoster)
	every := newPolicy(earlyConfig())
	for i := range 5 {
		if out := every.apply(c, probe.Result{Verdict: probe.Online}, t0.Add(time.Duration(i+1)*10*m), triggerSchedule); len(out.events) == 0 {
			t.Errorf("check %d not recorded with record_unchanged 0", i+1)
		}
	}
}

// The spread never exceeds the cadence's finest step: a demo cadence of
// minutes, or a test's of milliseconds, keeps its pace.
func TestSpreadIsCapped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		cadence []time.Duration
		early   time.Duration
		want    time.Duration
	}{
		{"daily cadence, early checks every 10m", []time.Duration{24 * time.Hour}, 10 * time.Minute, 10 * time.Minute},
		{"early checks every 5m", []time.Duration{24 * time.Hour}, 5 * time.Minute, 5 * time.Minute},
		{"first check after a minute", []time.Duration{time.Minute, time.Hour}, 0, time.Minute},
		{"milliseconds", []time.Duration{300 * time.Millisecond, 2 * time.Second}, 0, 300 * time.Millisecond},
	} {
		cfg := classicConfig()
		cfg.Cadence, cfg.Early, cfg.Spread = tt.cadence, config.Early{Every: tt.early, Until: 72 * time.Hour}, 10*time.Minute
		if got := newPolicy(cfg).spread; got != tt.want {
			t.Errorf("%s: spread %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := slotOffset(caseID(2), 300*time.Millisecond); got != 0 {
		t.Errorf("offset under a second: %s, want none", got)
	}
}

// With the spread on, each "stays gone" check of a case has an offset of
// its own below an hour (and below the gap before it, so that they keep
// their order); without it, they fall at the exact offsets.
func TestStaysGoneShift(t *testing.T) {
	t.Parallel()
	removed := t0
	stays := func(p policy, id string) []time.Duration {
		var out []time.Duration
		for now := removed; ; {
			at, ok := p.staysGoneSlot(id, removed, now)
			if !ok {
				return out
			}
			out = append(out, at.Sub(removed))
			now = at
		}
	}
	if got := stays(newPolicy(classicConfig()), caseID(1)); !slices.Equal(got, classicConfig().StaysGone) {
		t.Errorf("without spread: %v, want %v", got, classicConfig().StaysGone)
	}
	cfg := earlyConfig()
	p := newPolicy(cfg)
	differ := 0
	for i := range 200 {
		got := stays(p, caseID(i+1))
		if len(got) != len(cfg.StaysGone) {
			t.Fatalf("case %d: %d stays-gone checks %v, want %d", i+1, len(got), got, len(cfg.StaysGone))
		}
		for k, off := range got {
			if d := off - cfg.StaysGone[k]; d < 0 || d >= time.Hour || d%time.Second != 0 {
				t.Errorf("case %d: stays-gone check %d at +%s, want whole seconds in [%s, %s)", i+1, k, off, cfg.StaysGone[k], cfg.StaysGone[k]+time.Hour)
			}
		}
		if got[0]-cfg.StaysGone[0] != got[1]-cfg.StaysGone[1] {
			differ++
		}
	}
	if differ < 190 {
		t.Errorf("the first two stays-gone checks share their offset in %d of 200 cases", 200-differ)
	}
	// Checks 5 and 6 minutes after the removal: shifted by under a minute.
	cfg.StaysGone = []time.Duration{5 * time.Minute, 6 * time.Minute}
	for i := range 200 {
		if got := stays(newPolicy(cfg), caseID(i+1)); len(got) != 2 || got[0] >= 6*time.Minute || got[1] < got[0] {
			t.Fatalf("case %d: stays-gone checks %v for %v", i+1, got, cfg.StaysGone)
		}
	}
}
