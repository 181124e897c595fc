package store

import (
	"slices"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// audiences is the case index's list of cases by audience key
// (takedown.Case.Audiences): the cases a partner hotline's or a hoster's
// API token sees, so that listing them reads only their cases instead of
// every case in the bucket. It is guarded by the caseIndex's lock.
type audiences struct {
	// of holds each case's keys; ids holds each key's case ids, sorted.
	of  map[string][]string
	ids map[string][]string
}

func newAudiences() audiences {
	return audiences{of: map[string][]string{}, ids: map[string][]string{}}
}

// set records the case's keys (none: it has no audience).
func (a *audiences) set(id string, keys []string) {
	old := a.of[id]
	if slices.Equal(old, keys) {
		return
	}
	for _, k := range old {
		if !slices.Contains(keys, k) {
			a.drop(k, id)
		}
	}
	for _, k := range keys {
		if slices.Contains(old, k) {
			continue
		}
		list := a.ids[k]
		// Ids are time-ordered and a case is told about soon after it
		// opens, so a new id almost always goes last.
		if n := len(list); n == 0 || list[n-1] < id {
			a.ids[k] = append(list, id)
		} else if i, found := slices.BinarySearch(list, id); !found {
			a.ids[k] = slices.Insert(list, i, id)
		}
	}
	if len(keys) == 0 {
		delete(a.of, id)
	} else {
		a.of[id] = keys
	}
}

func (a *audiences) drop(key, id string) {
	list := a.ids[key]
	if i, found := slices.BinarySearch(list, id); found {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(a.ids, key)
	} else {
		a.ids[key] = list
	}
}

// next returns up to n ids after `after` (at or after lo, before hi when
// set) that carry one of keys and whose indexed state is st (any when
// empty), merging the keys' sorted lists; more reports whether ids may
// follow. The caller holds the index's lock.
func (a *audiences) next(ix *caseIndex, keys []string, after, lo, hi string, st takedown.State, n int) (ids []string, more bool) {
	lists := make([][]string, 0, len(keys))
	for _, k := range keys {
		list := a.ids[k]
		if list = list[startAt(list, after, lo):]; len(list) > 0 {
			lists = append(lists, list)
		}
	}
	for {
		// The smallest head of the lists is the next id.
		min := -1
		for i, l := range lists {
			if len(l) > 0 && (min < 0 || l[0] < lists[min][0]) {
				min = i
			}
		}
		if min < 0 {
			return ids, false
		}
		id := lists[min][0]
		for i, l := range lists {
			if len(l) > 0 && l[0] == id {
				lists[i] = l[1:]
			}
		}
		if hi != "" && id >= hi {
			return ids, false
		}
		if st != "" && ix.state[id] != st {
			continue
		}
		if len(ids) == n {
			return ids, true
		}
		ids = append(ids, id)
	}
}
