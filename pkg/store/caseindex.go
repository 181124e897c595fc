package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	// aud lists the cases by audience key (audience.go).
	aud audiences
	// following is true while a watch runs and has loaded the bucket;
	// rev is the revision of the last entry it saw (health.go compares it
	// with the bucket's last sequence).
	following atomic.Bool
	rev       atomic.Uint64
	watch     jetstream.KeyWatcher
}

func (ix *caseIndex) put(id string, st takedown.State, audiences []string) {
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
	ix.aud.set(id, audiences)
}

func (ix *caseIndex) remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, known := ix.state[id]; !known {
		return
	}
	delete(ix.state, id)
	ix.aud.set(id, nil)
	if i, found := slices.BinarySearch(ix.ids, id); found {
		ix.ids = slices.Delete(ix.ids, i, i+1)
	}
}

// next returns up to n ids after `after` (and at or after lo, before hi
// when set) whose indexed state is st (any when empty) and, when keys is
// not nil, that carry one of the audience keys; and whether more ids may
// follow. ok is false until the index has loaded.
func (ix *caseIndex) next(after, lo, hi string, st takedown.State, keys []string, n int) (ids []string, more, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.ready {
		return nil, false, false
	}
	if keys != nil {
		ids, more = ix.aud.next(ix, keys, after, lo, hi, st, n)
		return ids, more, true
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

// RunCaseIndex keeps this replica's case index up to date until ctx ends
// (then it returns nil). Each run loads the whole bucket into a fresh
// index, swapped in once complete, so that a run after a restart does not
// keep cases deleted meanwhile; until then the old one keeps serving. It
// returns an error when the watch ends while ctx lasts: the index has
// stopped following, readiness says so, and the daemon restarts it.
func (s *Store) RunCaseIndex(ctx context.Context) error {
	w, err := s.cases.WatchAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // a stop before the watch began
		}
		return fmt.Errorf("watch cases: %w", err)
	}
	s.index.setWatch(w)
	defer func() {
		s.index.following.Store(false)
		_ = w.Stop()
	}()
	loading := map[string]indexed{}
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case entry, open := <-w.Updates():
			if !open {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("case index: the watch of " + CasesBucket + " ended")
			}
			e = entry
		}
		if e == nil { // every existing case has been delivered
			n := s.index.replace(loading)
			loading = nil
			s.index.following.Store(true)
			s.log.Info("case index loaded", "cases", n)
			continue
		}
		s.index.rev.Store(e.Revision())
		x, ok := indexedState(e)
		s.pending.track(e.Key(), x.pendingSince)
		switch {
		case loading != nil && ok:
			loading[e.Key()] = x
		case loading != nil:
			delete(loading, e.Key())
		case ok:
			s.index.put(e.Key(), x.state, x.audiences)
		default:
			s.index.remove(e.Key())
		}
	}
}

// indexed is what the index keeps of a case: its state, its audience keys
// (takedown.Case.Audiences) and since when its outbox has held events
// (zero when it holds none).
type indexed struct {
	state        takedown.State
	audiences    []string
	pendingSince time.Time
}

// indexedState decodes what the index keeps of the case an entry holds;
// false for a deletion or anything that is not a case.
func indexedState(e jetstream.KeyValueEntry) (indexed, bool) {
	if e.Operation() != jetstream.KeyValuePut || !ValidCaseID(e.Key()) {
		return indexed{}, false
	}
	// Only the fields the audiences derive from are decoded.
	var c struct {
		State      takedown.State       `json:"state"`
		Notices    []takedown.NoticeRef `json:"notices"`
		Routing    *takedown.Routing    `json:"routing"`
		Enrichment *struct {
			Addresses []takedown.AddressInfo `json:"addresses"`
			Contacts  []takedown.Contact     `json:"contacts"`
			CDN       *takedown.CDN          `json:"cdn"`
		} `json:"enrichment"`
		Anonymised *takedown.Anonymised `json:"anonymised"`
		Outbox     []struct {
			Since time.Time `json:"since"`
		} `json:"outbox"`
	}
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return indexed{}, false
	}
	x := indexed{state: c.State}
	for _, p := range c.Outbox {
		if x.pendingSince.IsZero() || p.Since.Before(x.pendingSince) {
			x.pendingSince = p.Since
		}
	}
	tc := takedown.Case{Notices: c.Notices, Routing: c.Routing, Anonymised: c.Anonymised}
	if c.Enrichment != nil {
		tc.Enrichment = &takedown.Enrichment{Addresses: c.Enrichment.Addresses, Contacts: c.Enrichment.Contacts, CDN: c.Enrichment.CDN}
	}
	if keys := tc.Audiences(); len(keys) > 0 {
		x.audiences = keys
	}
	return x, true
}

// replace swaps in a freshly loaded index and returns its size.
func (ix *caseIndex) replace(cases map[string]indexed) int {
	ids := make([]string, 0, len(cases))
	states := make(map[string]takedown.State, len(cases))
	for id, x := range cases {
		ids = append(ids, id)
		states[id] = x.state
	}
	slices.Sort(ids)
	aud := newAudiences()
	for _, id := range ids {
		aud.set(id, cases[id].audiences)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.ids, ix.state, ix.aud, ix.ready = ids, states, aud, true
	return len(ids)
}

func (ix *caseIndex) setWatch(w jetstream.KeyWatcher) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.watch = w
}
