package world

import (
	"os"
	"testing"
	"time"
)

func TestBehaviourTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name     string
		b        Behaviour
		moved    time.Duration // -1: never moved
		renotice time.Duration // -1: none after the move
		now      time.Duration
		online   bool
		goneAt   time.Duration // -1: not known
	}{
		{"remove before the delay", Behaviour{Kind: KindRemove}, -1, -1, 89 * time.Second, true, 90 * time.Second},
		{"remove after the delay", Behaviour{Kind: KindRemove}, -1, -1, 90 * time.Second, false, 90 * time.Second},
		{"never", Behaviour{Kind: KindNever}, -1, -1, 100 * time.Hour, true, -1},
		{"flap first spell online", Behaviour{Kind: KindFlap, FlapPeriod: time.Minute}, -1, -1, 30 * time.Second, true, 90 * time.Second},
		{"flap second spell gone", Behaviour{Kind: KindFlap, FlapPeriod: 20 * time.Second}, -1, -1, 25 * time.Second, false, 90 * time.Second},
		{"flap third spell back", Behaviour{Kind: KindFlap, FlapPeriod: 20 * time.Second}, -1, -1, 45 * time.Second, true, 90 * time.Second},
		{"flap gone for good", Behaviour{Kind: KindFlap, FlapPeriod: 20 * time.Second}, -1, -1, 100 * time.Second, false, 90 * time.Second},
		{"move not moved yet", Behaviour{Kind: KindMove}, -1, -1, time.Hour, true, -1},
		{"moved, no forward yet", Behaviour{Kind: KindMove}, time.Minute, -1, time.Hour, true, -1},
		{"moved and forwarded", Behaviour{Kind: KindMove}, time.Minute, 2 * time.Minute, 2*time.Minute + 90*time.Second, false, 2*time.Minute + 90*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var st urlState
			st.noticed.Store(t0.UnixNano())
			var moved int64
			if tt.moved >= 0 {
				moved = at(tt.moved).UnixNano()
			}
			if tt.renotice >= 0 {
				st.renoticed.Store(at(tt.renotice).UnixNano())
			}
			on, gone := tt.b.online(&st, 90*time.Second, moved, at(tt.now))
			if on != tt.online {
				t.Errorf("online = %v, want %v", on, tt.online)
			}
			want := time.Time{}
			if tt.goneAt >= 0 {
				want = at(tt.goneAt)
			}
			if !gone.Equal(want) {
				t.Errorf("gone at %v, want %v", gone, want)
			}
		})
	}
	var fresh urlState
	if on, _ := (Behaviour{Kind: KindRemove}).online(&fresh, time.Second, 0, t0); !on {
		t.Error("material is gone before any notice")
	}
}

func TestURLNumber(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]int{"/c/0.jpg": 0, "/c/123.jpg": 123, "/c/0123.jpg": -1, "/c/-1.jpg": -1, "/c/1.png": -1, "/demo/a.jpg": -1} {
		n, ok := URLNumber(path)
		if (want >= 0) != ok || ok && n != want {
			t.Errorf("URLNumber(%q) = %d, %v; want %d", path, n, ok, want)
		}
	}
	if got := URL("h1.sim00001.com", 7); got != "http://h1.sim00001.com/c/7.jpg" {
		t.Errorf("URL = %s", got)
	}
}

// TestParseNotices reads the notice package's golden messages, so a change
// of takedownd's notice format that the world cannot read fails here.
func TestParseNotices(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		file, ref, kind string
		urls            int
	}{
		{"first-en.eml", "TD-2026-11-26-8G4L3R", "first", 2},
		{"forward-partner.eml", "TD-2026-11-26-FWD001", "forward", 2},
		{"reminder-nl.eml", "", "reminder", 1},
	} {
		data, err := os.ReadFile("../../notice/testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		n, err := ParseMail(data, []string{"abuse@hoster.example"}, at)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if tc.ref != "" && n.Ref != tc.ref || n.Kind != tc.kind || len(n.Items) < tc.urls || n.MessageID == "" {
			t.Errorf("%s: ref %q kind %q items %d message-id %q", tc.file, n.Ref, n.Kind, len(n.Items), n.MessageID)
		}
		for _, it := range n.Items {
			if it.URL == "" || it.CaseID == "" {
				t.Errorf("%s: item %+v lacks its url or case", tc.file, it)
			}
		}
	}
	fwd, err := ParseForward([]byte(`{"version":1,"reference":"TD-1","kind":"forward","items":[{"case_id":"c1","url":"http://a.test/x","report_ids":["r1"]}]}`), "DE", at)
	if err != nil || fwd.Ref != "TD-1" || len(fwd.Items) != 1 || fwd.Items[0].ReportIDs[0] != "r1" || fwd.Channel != "webhook" {
		t.Errorf("forward = %+v, %v", fwd, err)
	}
}

func TestPlanDrawsTheMix(t *testing.T) {
	t.Parallel()
	p := Plan{Hosts: 2000, Mix: DefaultMix, Seed: 1}
	got := map[string]int{}
	for i := range p.Hosts {
		got[p.hostKind(i)]++
	}
	// 85/5/3/4/3 of 2,000, each within a generous band.
	for kind, want := range map[string]int{KindRemove: 1700, KindNever: 100, KindFlap: 60, KindMove: 80, KindCDN: 60} {
		if got[kind] < want/2 || got[kind] > want*3/2 {
			t.Errorf("%s: %d hosts of 2000, want about %d (all: %v)", kind, got[kind], want, got)
		}
	}
}
