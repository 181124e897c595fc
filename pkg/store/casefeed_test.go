package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// recordFeed keeps the newest state of each case it was fed.
type recordFeed struct {
	mu     sync.Mutex
	states map[string]takedown.State
	revs   map[string]uint64
	loaded bool
	// puts and sames count the calls per case.
	puts, sames map[string]int
}

func (f *recordFeed) Put(rev uint64, c *takedown.Case) {
	f.count(&f.puts, c.ID)
	f.set(rev, c.ID, c.State)
}
func (f *recordFeed) Delete(rev uint64, id string) { f.set(rev, id, "") }
func (f *recordFeed) Same(rev uint64, id string)   { f.count(&f.sames, id) }

func (f *recordFeed) count(m *map[string]int, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[id]++
}

func (f *recordFeed) calls(id string) (puts, sames int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts[id], f.sames[id]
}
func (f *recordFeed) Loaded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loaded = true
}

func (f *recordFeed) set(rev uint64, id string, st takedown.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rev > f.revs[id] {
		f.revs[id], f.states[id] = rev, st
	}
}

func (f *recordFeed) snapshot() (map[string]takedown.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]takedown.State{}
	for id, st := range f.states {
		if st != "" {
			out[id] = st
		}
	}
	return out, f.loaded
}

// WatchCases delivers the whole bucket, decoded on every core, then each
// change; changes made while it loads end up as they were last written.
func TestWatchCasesLoadsThenFollows(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ids := seed(t, st, base, 300)
	f := &recordFeed{states: map[string]takedown.State{}, revs: map[string]uint64{}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.WatchCases(ctx, 0, f) }()
	for _, id := range ids[:50] {
		if _, err := st.Update(t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
			c.State = takedown.StateReview
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.cases.Delete(t.Context(), ids[299]); err != nil {
		t.Fatal(err)
	}
	want := map[string]takedown.State{}
	for i, id := range ids[:299] {
		want[id] = takedown.StateReceived
		if i%3 == 0 {
			want[id] = takedown.StateNoticed
		}
		if i < 50 {
			want[id] = takedown.StateReview
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		got, loaded := f.snapshot()
		if loaded && len(got) == len(want) && func() bool {
			for id, s := range want {
				if got[id] != s {
					return false
				}
			}
			return true
		}() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed holds %d cases (loaded %v), want %d as last written", len(got), loaded, len(want))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("WatchCases after the stop: %v", err)
	}

	// Resumed after the revision it had: only what changed since comes.
	bs, err := st.CasesBucket(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(t.Context(), ids[100], func(c *takedown.Case) ([]takedown.Event, error) {
		c.State = takedown.StateClosed
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	again := &recordFeed{states: map[string]takedown.State{}, revs: map[string]uint64{}}
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- st.WatchCases(ctx, bs.LastRevision+1, again) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		got, loaded := again.snapshot()
		if loaded && len(got) == 1 && got[ids[100]] == takedown.StateClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resumed feed holds %v (caught up %v), want only %s closed", got, loaded, ids[100])
		}
	}
	if after, err := st.CasesBucket(t.Context()); err != nil || !after.Created.Equal(bs.Created) || after.LastRevision <= bs.LastRevision {
		t.Errorf("bucket state %+v after %+v (%v)", after, bs, err)
	}
}
