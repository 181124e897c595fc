package recheck

import (
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

func TestNextSlot(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	tests := []struct {
		name string
		now  time.Duration
		want time.Duration
	}{
		{"at notice", 0, 15 * time.Minute},
		{"after first", 20 * time.Minute, time.Hour},
		{"after 12h", 13 * time.Hour, 24 * time.Hour},
		{"exactly at 24h", 24 * time.Hour, 48 * time.Hour},
		{"days later", 100 * time.Hour, 120 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := p.nextSlot(t0, t0.Add(tt.now)); !got.Equal(t0.Add(tt.want)) {
				t.Errorf("nextSlot(+%s) = +%s, want +%s", tt.now, got.Sub(t0), tt.want)
			}
		})
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
			p := testPolicy()
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
