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
	// of holds each case's keys; ids holds each key's case ids.
	of  map[string][]string
	ids map[string]*idList
}

func newAudiences() audiences {
	return audiences{of: map[string][]string{}, ids: map[string]*idList{}}
}

// idList is a set of case ids in two sorted slices. Ids are time-ordered
// and most cases are told about soon after they open, so most new ids
// go last in main. But in a burst, cases are enriched in the order their
// networks' RDAP answers come, not in the order they opened: inserting
// those into one sorted list of a partner's 270,000 cases moved megabytes
// each time, and took half of the case index's CPU. They go into recent,
// kept short, which is merged into main when it fills. A reader merges
// the two as it merges the lists of several keys (next).
type idList struct {
	main, recent []string
}

// recentMax bounds idList.recent: an insert moves at most that many ids,
// a merge (once per recentMax inserts) all of them.
const recentMax = 4096

func (l *idList) len() int { return len(l.main) + len(l.recent) }

func (l *idList) insert(id string) {
	if n := len(l.main); n == 0 || l.main[n-1] < id {
		if _, found := slices.BinarySearch(l.recent, id); !found {
			l.main = append(l.main, id)
		}
		return
	}
	if _, found := slices.BinarySearch(l.main, id); found {
		return
	}
	i, found := slices.BinarySearch(l.recent, id)
	if found {
		return
	}
	l.recent = slices.Insert(l.recent, i, id)
	if len(l.recent) >= recentMax {
		l.main = mergeSorted(l.main, l.recent)
		l.recent = nil
	}
}

func (l *idList) remove(id string) {
	if i, found := slices.BinarySearch(l.main, id); found {
		l.main = slices.Delete(l.main, i, i+1)
	} else if i, found := slices.BinarySearch(l.recent, id); found {
		l.recent = slices.Delete(l.recent, i, i+1)
	}
}

// mergeSorted returns the sorted union of two sorted slices with no id in
// both.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
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
		if list == nil {
			list = &idList{}
			a.ids[k] = list
		}
		list.insert(id)
	}
	if len(keys) == 0 {
		delete(a.of, id)
	} else {
		a.of[id] = keys
	}
}

func (a *audiences) drop(key, id string) {
	list := a.ids[key]
	if list == nil {
		return
	}
	list.remove(id)
	if list.len() == 0 {
		delete(a.ids, key)
	}
}

// next returns up to n ids after `after` (at or after lo, before hi when
// set) that carry one of keys and whose indexed state is st (any when
// empty), merging the keys' sorted lists; more reports whether ids may
// follow. The caller holds the index's lock.
func (a *audiences) next(ix *caseIndex, keys []string, after, lo, hi string, st takedown.State, n int) (ids []string, more bool) {
	lists := make([][]string, 0, 2*len(keys))
	for _, k := range keys {
		l := a.ids[k]
		if l == nil {
			continue
		}
		for _, list := range [][]string{l.main, l.recent} {
			if list = list[startAt(list, after, lo):]; len(list) > 0 {
				lists = append(lists, list)
			}
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
