package store

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func openStore(t *testing.T) *Store { return openStoreTB(t) }

func openStoreTB(t testing.TB) *Store {
	t.Helper()
	ns := natstest.Start(t)
	st, err := Open(t.Context(), ns.JS, Options{
		Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// seed stores n cases received a minute apart, every third one noticed.
func seed(t *testing.T, st *Store, base time.Time, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		at := base.Add(time.Duration(i) * time.Minute)
		state := takedown.StateReceived
		if i%3 == 0 {
			state = takedown.StateNoticed
		}
		id := CaseID(at, uint64(i+1))
		if _, err := st.CreateCase(t.Context(), takedown.Case{ID: id, State: state, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// listAll pages through List with the given page size.
func listAll(t *testing.T, st *Store, f ListFilter) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		page, next, err := st.List(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > f.Limit {
			t.Fatalf("page of %d, limit %d", len(page), f.Limit)
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == "" || pages > 100 {
			return got
		}
		f.After = next
	}
}

func TestListWithAndWithoutIndex(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ids := seed(t, st, base, 20)
	noticed := []string{ids[0], ids[3], ids[6], ids[9], ids[12], ids[15], ids[18]}
	tests := []struct {
		name string
		f    ListFilter
		want []string
	}{
		{"all in pages of 3", ListFilter{Limit: 3}, ids},
		{"by state", ListFilter{State: takedown.StateNoticed, Limit: 2}, noticed},
		{"since and until", ListFilter{Since: base.Add(5 * time.Minute), Until: base.Add(9 * time.Minute), Limit: 3}, ids[5:9]},
		{"state in a range", ListFilter{State: takedown.StateNoticed, Since: base.Add(4 * time.Minute), Until: base.Add(16 * time.Minute), Limit: 10}, []string{ids[6], ids[9], ids[12], ids[15]}},
		{"nothing matches", ListFilter{State: takedown.StateClosed, Limit: 5}, nil},
	}
	check := func(phase string) {
		for _, tc := range tests {
			if got := listAll(t, st, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s, %s: got %v, want %v", phase, tc.name, got, tc.want)
			}
		}
	}
	check("without index")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.RunCaseIndex(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitIndexed(t, st, len(ids))
	check("with index")

	// A state change reaches the index, and List sees it.
	if _, err := st.Update(t.Context(), ids[1], func(c *takedown.Case) ([]takedown.Event, error) {
		return nil, c.MoveTo(takedown.StateEnriched, "test", time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		if got := listAll(t, st, ListFilter{State: takedown.StateEnriched, Limit: 5}); slices.Equal(got, ids[1:2]) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the state change never showed in List")
}

func waitIndexed(t *testing.T, st *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		st.index.mu.RLock()
		ok := st.index.ready && len(st.index.ids) == n
		st.index.mu.RUnlock()
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("index did not load %d cases", n)
}

func TestCaseIndexKeepsOrder(t *testing.T) {
	t.Parallel()
	ix := caseIndex{state: map[string]takedown.State{}, aud: newAudiences(), ready: true}
	for _, id := range []string{"B", "D", "A", "C", "D"} {
		ix.put(id, takedown.StateReceived, nil)
	}
	ix.remove("C")
	ix.remove("Z")
	if !slices.Equal(ix.ids, []string{"A", "B", "D"}) {
		t.Errorf("ids = %v", ix.ids)
	}
	got, more, ok := ix.next("A", "", "", "", nil, 1)
	if !ok || !more || !slices.Equal(got, []string{"B"}) {
		t.Errorf("next after A = %v more %v ok %v", got, more, ok)
	}
}
