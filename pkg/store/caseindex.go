package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// caseIndex is each replica's in-memory list of case ids (sorted, which is
// received order) and their states, fed by a watch on the cases bucket.
// Listing a page then reads only the cases on it instead of every key in
// the bucket. It may lag a write by milliseconds, so List checks each case
// it reads against the filter again.
type caseIndex struct {
	mu    sync.RWMutex
	ready bool
	ids   []string
	state map[string]takedown.State
}

func (ix *caseIndex) put(id string, st takedown.State) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, known := ix.state[id]; !known {
		// Ids are time-ordered, so a new one almost always goes last.
		if n := len(ix.ids); n == 0 || ix.ids[n-1] < id {
			ix.ids = append(ix.ids, id)
		} else {
			i, _ := slices.BinarySearch(ix.ids, id)
			ix.ids = slices.Insert(ix.ids, i, id)
		}
	}
	ix.state[id] = st
}

func (ix *caseIndex) remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, known := ix.state[id]; !known {
		return
	}
	delete(ix.state, id)
	if i, found := slices.BinarySearch(ix.ids, id); found {
		ix.ids = slices.Delete(ix.ids, i, i+1)
	}
}

// next returns up to n ids after `after` (and at or after lo, before hi
// when set) whose indexed state is st (any when empty), and whether more
// ids may follow. ok is false until the index has loaded.
func (ix *caseIndex) next(after, lo, hi string, st takedown.State, n int) (ids []string, more, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.ready {
		return nil, false, false
	}
	i := startAt(ix.ids, after, lo)
	for ; i < len(ix.ids); i++ {
		id := ix.ids[i]
		if hi != "" && id >= hi {
			return ids, false, true
		}
		if st != "" && ix.state[id] != st {
			continue
		}
		if len(ids) == n {
			return ids, true, true
		}
		ids = append(ids, id)
	}
	return ids, false, true
}

// startAt is the position of the first id after `after` and at or after lo.
func startAt(ids []string, after, lo string) int {
	i, found := slices.BinarySearch(ids, after)
	if found && after != "" {
		i++
	}
	if lo != "" {
		j, _ := slices.BinarySearch(ids, lo)
		i = max(i, j)
	}
	return i
}

// RunCaseIndex keeps this replica's case index up to date until ctx ends.
func (s *Store) RunCaseIndex(ctx context.Context) error {
	w, err := s.cases.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch cases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, open := <-w.Updates():
			if !open {
				return nil
			}
			if e == nil { // every existing case has been delivered
				s.index.mu.Lock()
				s.index.ready = true
				s.index.mu.Unlock()
				s.log.Info("case index loaded", "cases", len(s.index.ids))
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				s.index.remove(e.Key())
				continue
			}
			var c struct {
				State takedown.State `json:"state"`
			}
			if err := json.Unmarshal(e.Value(), &c); err == nil && ValidCaseID(e.Key()) {
				s.index.put(e.Key(), c.State)
			}
		}
	}
}
