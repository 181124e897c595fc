package store

import (
	"context"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// BenchmarkList reads a 50-case page of one state out of 20,000 cases
// (half of them closed), with the case index and by listing the bucket's
// keys (the fallback while the index loads), a 1,000-case page from the
// index, and a page of closed cases, which the index does not hold (a key
// scan minus the open ids).
//
//	go test -run '^$' -bench BenchmarkList ./pkg/store
func BenchmarkList(b *testing.B) {
	const n = 20000
	st := openStoreTB(b)
	base := time.Now().Add(-n * time.Minute)
	for i := range n {
		state := takedown.StateNoticed
		switch {
		case i%10 == 0:
			state = takedown.StateReview
		case i%2 == 1:
			state = takedown.StateClosed
		}
		id := CaseID(base.Add(time.Duration(i)*time.Minute), uint64(i+1))
		if _, err := st.CreateCase(b.Context(), takedown.Case{ID: id, State: state}); err != nil {
			b.Fatal(err)
		}
	}
	f := ListFilter{State: takedown.StateReview, Limit: 50}
	b.Run("key_scan", func(b *testing.B) {
		for b.Loop() {
			// Without the index every candidate is read: the page may end
			// short, with its cursor, after its bound of misses.
			if page, next, err := st.List(b.Context(), f); err != nil || len(page) == 0 || (len(page) < 50 && next == "") {
				b.Fatalf("%d cases, next %q, %v", len(page), next, err)
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = st.RunCaseIndex(ctx) }()
	for deadline := time.Now().Add(time.Minute); ; {
		st.index.mu.RLock()
		ready := st.index.ready
		st.index.mu.RUnlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("index not loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			if page, _, err := st.List(b.Context(), f); err != nil || len(page) != 50 {
				b.Fatalf("%d cases, %v", len(page), err)
			}
		}
	})
	b.Run("index_page_1000", func(b *testing.B) {
		// The load tool's census and a dashboard's export read pages
		// of 1,000.
		f := ListFilter{State: takedown.StateNoticed, Limit: 1000}
		for b.Loop() {
			if page, _, err := st.List(b.Context(), f); err != nil || len(page) != 1000 {
				b.Fatalf("%d cases, %v", len(page), err)
			}
		}
	})
	b.Run("closed", func(b *testing.B) {
		f := ListFilter{State: takedown.StateClosed, Limit: 50}
		for b.Loop() {
			if page, _, err := st.List(b.Context(), f); err != nil || len(page) != 50 {
				b.Fatalf("%d cases, %v", len(page), err)
			}
		}
	})
}
