package stats

import (
	"slices"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// window is a removal window of Stats.RemovedWithin.
type window struct {
	name string
	d    time.Duration
}

var (
	windows = []window{{"1h", time.Hour}, {"12h", 12 * time.Hour}, {"24h", 24 * time.Hour}, {"72h", 72 * time.Hour}, {"7d", 7 * 24 * time.Hour}}
	oneDay  = []window{{"24h", 24 * time.Hour}}
)

// tally is what one pass over the entries collects for Stats.
type tally struct {
	s         Stats
	byState   []int
	byRoute   []int
	byCountry []int
	// b holds the durations (ns) of confirmation → first notice,
	// confirmation → first removal and first notice → first removal, and
	// the URL hashes.
	b      *buffers
	within []Within
}

// Stats computes the figures of the cases f selects, as of now. The
// summaries are read under the aggregate's read lock (one pass, a few
// milliseconds per hundred thousand cases); the sorting happens after.
func (a *Aggregate) Stats(f Filter) (Stats, error) {
	if err := f.Validate(); err != nil {
		return Stats{}, err
	}
	now := a.opts.Now()
	a.mu.RLock()
	t := a.cur
	if t == nil {
		a.mu.RUnlock()
		return Stats{}, ErrLoading
	}
	m := t.compile(f)
	tl := tally{
		byState: make([]int, len(takedown.States)+1), byRoute: make([]int, len(routeNames)),
		byCountry: make([]int, t.countries.size()), within: make([]Within, len(windows)), b: a.bufs.get(),
	}
	defer a.bufs.put(tl.b)
	nowMS := now.UnixNano()
	for i := range t.entries {
		if e := &t.entries[i]; m.match(e) {
			tl.add(e, nowMS)
		}
	}
	countries := slices.Clone(t.countries.names)
	a.mu.RUnlock()
	return tl.finish(f, now, a.opts.HotlineCountry, countries), nil
}

func (tl *tally) add(e *entry, now int64) {
	s := &tl.s
	s.Cases++
	if e.open() {
		s.Open++
	}
	tl.byState[min(int(e.state), len(tl.byState)-1)]++
	tl.byRoute[e.route]++
	tl.byCountry[e.country]++
	if e.flags&flagCountryKnown != 0 {
		s.Hosting.Known++
		if e.flags&flagDomestic != 0 {
			s.Hosting.Domestic++
		}
	}
	if e.flags&flagAnonymised != 0 {
		s.Anonymised++
	}
	s.Reminders += int(e.reminders)
	s.Escalations += int(e.escalations)
	s.FailedNotices += int(e.failed)
	s.Reappearances += int(e.reopened)
	if e.reopened > 0 {
		s.CasesReappeared++
	}
	b := tl.b
	if e.urlHash != 0 {
		b.urls = append(b.urls, e.urlHash)
	}
	if e.firstNotice != 0 {
		b.notice = append(b.notice, since(e.confirmed, e.firstNotice))
	}
	if e.removed != 0 {
		b.removal = append(b.removal, since(e.confirmed, e.removed))
		if e.firstNotice != 0 {
			b.reaction = append(b.reaction, since(e.firstNotice, e.removed))
		}
	}
	if e.firstNotice == 0 && e.removed == 0 {
		return // never noticed: not in the removal shares
	}
	if e.removed == 0 && e.open() {
		s.Pending++
	}
	countWithin(tl.within, windows, e.removed, e.confirmed, now, !e.open())
}

// countWithin adds a noticed case to each window's share, measured from
// start: a removal counts in every window (removed within it or not); a
// case without one counts only where its outcome is known — closed, or
// start at least the window ago.
func countWithin(ws []Within, wins []window, removed, start, now int64, closed bool) {
	for i := range ws {
		w := wins[i].d.Nanoseconds()
		switch {
		case removed != 0:
			ws[i].Of++
			if removed-start <= w {
				ws[i].Removed++
			}
		case closed || now-start >= w:
			ws[i].Of++
		}
	}
}

func (tl *tally) finish(f Filter, now time.Time, home string, countries []string) Stats {
	s := tl.s
	s.Filter, s.GeneratedAt = f.view(), now.UTC()
	s.ByState = map[string]int{}
	for i, st := range takedown.States {
		s.ByState[string(st)] = tl.byState[i]
	}
	if n := tl.byState[len(takedown.States)]; n > 0 {
		s.ByState["other"] = n
	}
	s.ByRoute = map[string]int{}
	for i, r := range routeNames {
		if tl.byRoute[i] > 0 || i < routeOther {
			s.ByRoute[r] = tl.byRoute[i]
		}
	}
	s.Hosting.HotlineCountry = home
	s.Hosting.DomesticShare = share(s.Hosting.Domestic, s.Hosting.Known)
	s.Hosting.ByCountry = map[string]int{}
	for id, n := range tl.byCountry {
		if n > 0 {
			s.Hosting.ByCountry[orUnknown(countries[id])] = n
		}
	}
	b := tl.b
	s.ToFirstNotice, s.ToRemoval, s.NoticeToRemoval = durations(b.notice), durations(b.removal), durations(b.reaction)
	s.RemovedWithin = finishWithin(tl.within, windows)
	s.DistinctURLs = countDistinct(b.urls, b.scratch(len(b.urls)))
	s.RepeatedURLs = len(b.urls) - s.DistinctURLs
	return s
}

func finishWithin(ws []Within, wins []window) []Within {
	for i := range ws {
		ws[i].Window, ws[i].Seconds = wins[i].name, int64(wins[i].d/time.Second)
		ws[i].Share = share(ws[i].Removed, ws[i].Of)
	}
	return ws
}
