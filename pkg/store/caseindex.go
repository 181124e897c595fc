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

// caseIndex is each replica's in-memory list of the ids of open cases
// (sorted, which is received order) and their states, fed by a watch on
// the cases bucket. Listing a page of an open state then reads only the
// cases on it instead of every key in the bucket. It may lag a write by
// milliseconds, so List checks each case it reads against the filter
// again.
//
// A closed case leaves the index: closed is for good (a new report of the
// URL opens a new case), and closed cases are most of a bucket that grows
// for years, so keeping them would make the index grow with every case
// ever received. A list that may hold closed cases reads the bucket's keys
// instead (candidates).
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
	if st == takedown.StateClosed {
		ix.remove(id)
		return
	}
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
	clears := newClearWatch()
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
		if clears.dropsOutbox(e) {
			// The same case as its last write, its events now on the trail.
			s.pending.track(e.Key(), time.Time{})
			continue
		}
		x, ok := indexedState(e)
		s.pending.track(e.Key(), x.pendingSince)
		switch {
		case loading != nil && ok && x.state != takedown.StateClosed:
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

// open is the number of cases the index holds.
func (ix *caseIndex) open() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}

// candidates returns, in order, ids that may match a list and whether more
// may follow. The index answers for an open state once it has loaded; a
// list of closed cases, or of every state, reads the bucket's keys, since
// closed cases are not in the index. What the index can rule out is left
// out of those: for closed cases every id it holds (open), and for a list
// by audience every open case without one of the keys.
func (s *Store) candidates(ctx context.Context, after, lo, hi string, st takedown.State, audiences []string, n int) ([]string, bool, error) {
	if st != "" && st != takedown.StateClosed {
		if ids, more, ok := s.index.next(after, lo, hi, st, audiences, n); ok {
			return ids, more, nil
		}
	}
	var skip func(string) bool
	if s.index.following.Load() {
		skip = func(id string) bool { return s.index.rulesOut(id, st, audiences) }
	}
	return s.scanIDs(ctx, after, lo, hi, n, skip)
}

// rulesOut reports whether the index knows that id cannot match: an open
// case in a list of closed ones, or an open case without the audience.
func (ix *caseIndex) rulesOut(id string, st takedown.State, audiences []string) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	open, known := ix.state[id]
	switch {
	case !known:
		return false
	case st == takedown.StateClosed:
		return true
	case st != "" && open != st:
		return true
	}
	return audiences != nil && !slices.ContainsFunc(ix.aud.of[id], func(k string) bool { return slices.Contains(audiences, k) })
}

// maxListMisses bounds how many cases one List reads that do not match
// (read from the bucket's keys: closed cases of another audience) before
// it returns a short page with its cursor.
func maxListMisses(limit int) int { return 4*limit + 64 }

// scanIDs lists the bucket's keys and returns the first n case ids after
// `after`, at or after lo and before hi ("" = unbounded), that skip does
// not exclude; more reports that there were others after them. It keeps
// only about 2n ids in memory, however many cases the bucket holds, so a
// page costs a read of every key but never memory for all of them.
func (s *Store) scanIDs(ctx context.Context, after, lo, hi string, n int, skip func(string) bool) ([]string, bool, error) {
	lister, err := s.cases.ListKeys(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("list case ids: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var ids []string
	more := false
	keep := func() {
		slices.Sort(ids)
		ids = slices.Compact(ids) // a key updated during the listing may come twice
		if len(ids) > n {
			ids, more = ids[:n], true
		}
	}
	for k := range lister.Keys() {
		if !ValidCaseID(k) || k <= after || k < lo || (hi != "" && k >= hi) || (skip != nil && skip(k)) {
			continue
		}
		if ids = append(ids, k); len(ids) >= 2*n+64 {
			keep()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("list case ids: %w", err)
	}
	keep()
	return ids, more, nil
}
