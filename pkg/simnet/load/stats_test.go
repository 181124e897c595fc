package load

import (
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/world"
)

func TestNoticeAccounting(t *testing.T) {
	t.Parallel()
	st := newStats(nil, 3, 10, "t-")
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	st.published(0, 0, t0)
	st.published(1, 1, t0)
	item := func(n int) []world.Item { return []world.Item{{URL: world.URL("h0.sim00000.com", n), CaseID: "c"}} }
	notices := []world.Notice{
		{Ref: "TD-1", Kind: "first", To: []string{"abuse@a"}, At: t0.Add(30 * time.Second), Items: item(0)},
		{Ref: "TD-1", Kind: "first", To: []string{"abuse@a"}, At: t0.Add(31 * time.Second), Items: item(0)},  // resent
		{Ref: "TD-2", Kind: "first", To: []string{"abuse@a"}, At: t0.Add(40 * time.Second), Items: item(0)},  // a second first notice
		{Ref: "TD-3", Kind: "forward", To: []string{"DE"}, At: t0.Add(50 * time.Second), Items: item(0)},     // re-routed
		{Ref: "TD-4", Kind: "reminder", To: []string{"abuse@a"}, At: t0.Add(time.Hour), Items: item(0)},      // not a first
		{Ref: "TD-5", Kind: "first", To: []string{"abuse@b"}, At: t0.Add(20 * time.Second), Items: item(1)},  // another URL
		{Ref: "TD-6", Kind: "first", To: []string{"abuse@b"}, At: t0.Add(20 * time.Second), Items: item(99)}, // not this run's
	}
	for _, n := range notices {
		st.onNotice(n)
	}
	if st.resent != 1 || st.dupFirst != 1 || st.rerouted != 1 || st.notices != 7 {
		t.Errorf("resent %d, second firsts %d, rerouted %d, notices %d; want 1, 1, 1, 7", st.resent, st.dupFirst, st.rerouted, st.notices)
	}
	if s := st.noticeDelay.summary(); s.N != 2 || s.Max < 29*time.Second || s.Max > 31*time.Second {
		t.Errorf("first-notice delays %+v, want 20s and 30s", s)
	}
	if st.perContact["abuse@a"] != 4 || st.byKind["first"] != 5 {
		t.Errorf("per contact %v, by kind %v", st.perContact, st.byKind)
	}
}

func TestReportAndURLIndex(t *testing.T) {
	t.Parallel()
	st := newStats(nil, 3, 10, "load-1-")
	for id, want := range map[string]int{"load-1-0": 0, "load-1-9": 9, "load-1-10": -1, "other-1": -1, "load-1-x": -1} {
		i, ok := st.reportIndex(id)
		if (want >= 0) != ok || ok && i != want {
			t.Errorf("reportIndex(%q) = %d, %v", id, i, ok)
		}
	}
	if n, ok := st.urlIndex("http://h1.sim00001.com/c/7.jpg"); !ok || n != 7 {
		t.Errorf("urlIndex = %d, %v", n, ok)
	}
	if _, ok := st.urlIndex("http://www.quick-removal-sim.com/demo/a.jpg"); ok {
		t.Error("a demo URL counted as the run's")
	}
}
