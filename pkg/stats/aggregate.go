// Package stats keeps the figures a hotline's annual report asks for —
// how many cases, where they were hosted, how fast notices went out and
// the material came down, which hosters are slow — from a compact summary
// of every case (about 90 bytes) held in memory by each replica and fed
// by a watch on the cases bucket. A request filters and counts those
// summaries; it never reads the bucket.
package stats

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Watcher delivers the cases bucket (store.Store.WatchCases).
type Watcher interface {
	WatchCases(ctx context.Context, f store.CaseFeed) error
}

// Options configure an Aggregate.
type Options struct {
	// HotlineCountry is the hotline's own country: cases hosted there are
	// hosted domestically.
	HotlineCountry string
	// Hasher hashes URLs with the retention secret, so that a URL reported
	// again joins its earlier cases, anonymised or not; nil counts no
	// repeated URLs.
	Hasher *URLHasher
	Now    func() time.Time
	Log    *slog.Logger
}

// Aggregate is the in-memory summary of every case. Run keeps it up to
// date; Stats, Hosters and Hoster read it.
type Aggregate struct {
	opts    Options
	watcher Watcher

	mu  sync.RWMutex
	cur *table // nil until the first load completes
	// loading is the table the running watch fills until Loaded; only
	// the watch's goroutine touches it.
	loading *table
	// loadedIn is how long the last load took; rev is the last revision.
	loadedIn time.Duration
	rev      atomic.Uint64
	// bufs are the requests' scratch slices.
	bufs bufferPool
}

// change is one case written (f set) or deleted.
type change struct {
	key caseKey
	f   *facts
}

// New returns an empty aggregate fed by w once Run runs.
func New(w Watcher, opts Options) *Aggregate {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.HotlineCountry = strings.ToUpper(opts.HotlineCountry)
	return &Aggregate{opts: opts, watcher: w}
}

// Run keeps the aggregate up to date until ctx ends. Each run loads the
// whole bucket into a fresh table, swapped in once complete: until then
// the previous one (if any) keeps answering. It returns an error when the
// watch ends while ctx lasts.
func (a *Aggregate) Run(ctx context.Context) error {
	started := a.opts.Now()
	a.loading = newTable()
	feed := &feed{a: a, started: started}
	return a.watcher.WatchCases(ctx, feed)
}

// Loaded reports whether the aggregate has loaded the bucket once.
func (a *Aggregate) Loaded() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cur != nil
}

// Size is how many cases the aggregate holds.
func (a *Aggregate) Size() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cur == nil {
		return 0
	}
	return len(a.cur.entries)
}

// LoadTime is how long the last complete load of the bucket took.
func (a *Aggregate) LoadTime() time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.loadedIn
}

// feed is the store.CaseFeed of one run.
type feed struct {
	a       *Aggregate
	started time.Time
	loaded  bool
}

func (f *feed) Put(rev uint64, c *takedown.Case) {
	facts, ok := factsOf(c, f.a.opts.HotlineCountry, f.a.opts.Hasher)
	if !ok {
		return
	}
	f.apply(rev, change{key: facts.key, f: &facts})
}

func (f *feed) Delete(rev uint64, id string) {
	if k, ok := keyOf(id); ok {
		f.apply(rev, change{key: k})
	}
}

func (f *feed) apply(rev uint64, ch change) {
	a := f.a
	if rev > a.rev.Load() {
		a.rev.Store(rev)
	}
	if !f.loaded {
		// While loading, cases arrive in no set order, each once; a case
		// changed meanwhile comes again, with a higher revision.
		t := a.loading
		if ch.f == nil {
			t.entries = append(t.entries, entry{key: ch.key, state: tombstone})
		} else {
			t.entries = append(t.entries, t.entryOf(*ch.f, a.opts.HotlineCountry))
		}
		t.revs = append(t.revs, rev)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch.f == nil {
		a.cur.remove(ch.key)
		return
	}
	a.cur.put(*ch.f, a.opts.HotlineCountry)
}

func (f *feed) Loaded() {
	if f.loaded {
		return
	}
	f.loaded = true
	a := f.a
	t := a.loading
	t.finishLoading()
	a.loading = nil
	a.mu.Lock()
	a.cur = t
	a.loadedIn = a.opts.Now().Sub(f.started)
	a.mu.Unlock()
	a.opts.Log.Info("statistics loaded", "cases", len(t.entries), "took", a.loadedIn.Round(time.Millisecond))
}

// table is one loaded generation of summaries with its string tables.
type table struct {
	entries   []entry // sorted by key
	countries *interner
	hosters   *interner
	// audiences holds each distinct set of audience keys (joined), and
	// audSets the same sets as lists: cases told to the same parties
	// share one id.
	audiences *interner
	audSets   [][]string
	addrs     *interner // contact addresses, and hashes of failing ones
	// plain maps the id of a failing address's hash to the address, as
	// far as a case not anonymised names it.
	plain    map[uint32]string
	networks *interner
	asNames  map[uint32]string
	// revs are the revisions of entries while loading (then nil).
	revs []uint64
	// about holds what each hoster (by id) was seen with: its networks,
	// ASes and abuse addresses. It only grows: it names the hoster, and
	// a network a hoster once used is still its network.
	about []*hosterAbout
}

type hosterAbout struct {
	asns     []uint32
	networks []uint32
	contacts []uint32
}

func newTable() *table {
	return &table{
		countries: newInterner(1 << 16), hosters: newInterner(1 << 31), audiences: newInterner(1 << 31),
		audSets: [][]string{nil}, addrs: newInterner(1 << 31), networks: newInterner(1 << 31),
		asNames: map[uint32]string{}, plain: map[uint32]string{},
	}
}

// entryOf interns f.
func (t *table) entryOf(f facts, home string) entry {
	e := entry{
		key: f.key, state: stateIndex(f.state), route: routeIndex(f.route),
		country: uint16(t.countries.id(f.country)), hoster: t.hosters.id(f.hoster), audience: t.audienceSet(f.audiences),
		reminders: clamp16(f.reminders), escalations: clamp16(f.escalations), failed: clamp16(f.failed), reopened: clamp16(f.reopened),
		confirmed: unixNano(f.confirmed), firstNotice: unixNano(f.firstNotice), removed: unixNano(f.removed), closed: unixNano(f.closed),
		urlHash: f.urlHash,
	}
	if f.country != "" {
		e.flags |= flagCountryKnown
		if f.country == home {
			e.flags |= flagDomestic
		}
	}
	if f.anonymised {
		e.flags |= flagAnonymised
	}
	if f.complete {
		e.flags |= flagComplete
	}
	if len(f.failing) > 0 {
		x := &extra{}
		for _, sum := range f.failing {
			id := t.addrs.id(sum)
			x.failing = append(x.failing, id)
			if addr, ok := f.plain[sum]; ok {
				t.plain[id] = addr
			}
		}
		e.more = x
	}
	t.learn(e.hoster, f)
	return e
}

// audienceSet is the id of a (sorted) set of audience keys.
func (t *table) audienceSet(keys []string) uint32 {
	if len(keys) == 0 {
		return 0
	}
	joined := strings.Join(keys, "\n")
	if id, ok := t.audiences.lookup(joined); ok {
		return id
	}
	id := t.audiences.id(joined)
	if int(id) == len(t.audSets) {
		t.audSets = append(t.audSets, slices.Clone(keys))
	}
	return id
}

// learn adds what f says about its hoster.
func (t *table) learn(hoster uint32, f facts) {
	for int(hoster) >= len(t.about) {
		t.about = append(t.about, nil)
	}
	h := t.about[hoster]
	if h == nil {
		h = &hosterAbout{}
		t.about[hoster] = h
	}
	for i, n := range f.asns {
		if !slices.Contains(h.asns, n) {
			h.asns = append(h.asns, n)
		}
		if i < len(f.asNames) && f.asNames[i] != "" {
			t.asNames[n] = f.asNames[i]
		}
	}
	for _, n := range f.networks {
		if id := t.networks.id(n); !slices.Contains(h.networks, id) {
			h.networks = append(h.networks, id)
		}
	}
	for _, c := range f.contacts {
		if id := t.addrs.id(c); !slices.Contains(h.contacts, id) {
			h.contacts = append(h.contacts, id)
		}
	}
}

func clamp16(n int) uint16 {
	return uint16(min(max(n, 0), 1<<16-1))
}

func (t *table) find(k caseKey) (int, bool) {
	return slices.BinarySearchFunc(t.entries, k, func(e entry, k caseKey) int { return compareKeys(e.key, k) })
}

func compareKeys(a, b caseKey) int { return strings.Compare(string(a[:]), string(b[:])) }

func (t *table) put(f facts, home string) {
	e := t.entryOf(f, home)
	i, found := t.find(e.key)
	if found {
		t.entries[i] = e
		return
	}
	t.entries = slices.Insert(t.entries, i, e)
}

func (t *table) remove(k caseKey) {
	if i, found := t.find(k); found {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
}

// tombstone marks, while loading, a case deleted after it was delivered.
const tombstone = 0xFF

// finishLoading sorts what the load appended and keeps, of a case that
// came more than once, the one of the highest revision (dropping it when
// that was a deletion).
func (t *table) finishLoading() {
	order := make([]int32, len(t.entries))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int {
		return cmp.Or(compareKeys(t.entries[x].key, t.entries[y].key), cmp.Compare(t.revs[x], t.revs[y]))
	})
	out := make([]entry, 0, len(t.entries))
	for i, idx := range order {
		e := t.entries[idx]
		if i+1 < len(order) && t.entries[order[i+1]].key == e.key || e.state == tombstone {
			continue
		}
		out = append(out, e)
	}
	t.entries, t.revs = out, nil
}
