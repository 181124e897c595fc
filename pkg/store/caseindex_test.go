package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestClosedCasesLeaveTheIndex: the index holds open cases only, and a
// list of closed cases (or of every state) still finds them all, in order
// and in pages, before and after a case closes while the index follows.
func TestClosedCasesLeaveTheIndex(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ids, closed, open []string
	for i := range 40 {
		at := base.Add(time.Duration(i) * time.Minute)
		id := CaseID(at, uint64(i+1))
		state := takedown.StateNoticed
		if i%4 != 0 {
			state = takedown.StateClosed
		}
		if _, err := st.CreateCase(t.Context(), takedown.Case{ID: id, State: state, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if state == takedown.StateClosed {
			closed = append(closed, id)
		} else {
			open = append(open, id)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.RunCaseIndex(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitIndexed(t, st, len(open))

	check := func(phase string, closed, open []string) {
		t.Helper()
		tests := []struct {
			name string
			f    ListFilter
			want []string
		}{
			{"closed, pages of 3", ListFilter{State: takedown.StateClosed, Limit: 3}, closed},
			{"closed, one page", ListFilter{State: takedown.StateClosed, Limit: 100}, closed},
			{"closed in a range", ListFilter{State: takedown.StateClosed, Since: base.Add(10 * time.Minute), Until: base.Add(20 * time.Minute), Limit: 2}, between(closed, base.Add(10*time.Minute), base.Add(20*time.Minute))},
			{"every state, pages of 7", ListFilter{Limit: 7}, ids},
			{"open state from the index", ListFilter{State: takedown.StateNoticed, Limit: 4}, open},
		}
		for _, tc := range tests {
			if got := listAll(t, st, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s, %s: got %v, want %v", phase, tc.name, got, tc.want)
			}
		}
	}
	check("loaded", closed, open)
	if n := st.index.open(); n != len(open) {
		t.Errorf("index holds %d cases, want the %d open ones", n, len(open))
	}

	// An open case closes while the index follows: it leaves the index and
	// shows among the closed.
	if _, err := st.Update(t.Context(), open[1], func(c *takedown.Case) ([]takedown.Event, error) {
		return nil, c.MoveTo(takedown.StateClosed, "test", time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for st.index.knows(open[1]) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st.index.knows(open[1]) {
		t.Fatal("the closed case is still in the index")
	}
	nowClosed := append(slices.Clone(closed), open[1])
	slices.Sort(nowClosed)
	check("after a close", nowClosed, slices.Delete(slices.Clone(open), 1, 2))
}

// between is the ids received in [since, until).
func between(ids []string, since, until time.Time) []string {
	var out []string
	for _, id := range ids {
		if id >= IDPrefixFor(since) && id < IDPrefixFor(until) {
			out = append(out, id)
		}
	}
	return out
}

// knows reports whether the index holds id.
func (ix *caseIndex) knows(id string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	_, ok := ix.state[id]
	return ok
}

// TestClosedCasesOfAnAudience: a scoped list (a hoster's token) finds its
// closed cases among many of others without reading the whole bucket in
// one request: a page comes short, with a cursor, once it has read a
// bounded number of cases that were not the audience's, and paging on
// finds every one, in order.
func TestClosedCasesOfAnAudience(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const limit = 2
	var mine, mineOpen []string
	for i := range 300 {
		at := base.Add(time.Duration(i) * time.Minute)
		c := takedown.Case{ID: CaseID(at, uint64(i+1)), State: takedown.StateClosed, ReceivedAt: at,
			Notices: []takedown.NoticeRef{{Kind: "first", To: "abuse@other.example", At: at}}}
		if i%100 == 0 || i == 299 { // few of ours, far apart
			c.Notices[0].To = "abuse@hoster-a.example"
			mine = append(mine, c.ID)
		}
		if i == 150 {
			c.State = takedown.StateNoticed
			c.Notices[0].To = "abuse@hoster-a.example"
			mineOpen = append(mineOpen, c.ID)
		}
		if _, err := st.CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.RunCaseIndex(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitIndexed(t, st, 1)

	aud := []string{takedown.AudienceDomain("hoster-a.example")}
	all := slices.Sorted(slices.Values(append(slices.Clone(mine), mineOpen...)))
	for _, tc := range []struct {
		name string
		f    ListFilter
		want []string
	}{
		{"closed", ListFilter{State: takedown.StateClosed, Audiences: aud, Limit: limit}, mine},
		{"every state", ListFilter{Audiences: aud, Limit: limit}, all},
		{"open, from the index", ListFilter{State: takedown.StateNoticed, Audiences: aud, Limit: limit}, mineOpen},
	} {
		if got := listAll(t, st, tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	page, next, err := st.List(t.Context(), ListFilter{State: takedown.StateClosed, Audiences: aud, After: mine[0], Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 || next == "" || next >= mine[1] {
		t.Errorf("a page after 99 cases of others: %d cases, cursor %q; want a short page whose cursor stops before %s", len(page), next, mine[1])
	}
}
