package stats

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
)

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

// splitSet is the list of keys of a joined audience set.
func splitSet(joined string) []string { return strings.Split(joined, "\n") }

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
// that was a deletion). It sorts compact keys rather than the entries:
// a million 80-byte entries would be moved about many times.
func (t *table) finishLoading() {
	type loadKey struct {
		hi  uint64
		lo  uint16
		rev uint64
		idx int32
	}
	keys := make([]loadKey, len(t.entries))
	for i := range t.entries {
		k := &t.entries[i].key
		keys[i] = loadKey{hi: binary.BigEndian.Uint64(k[:8]), lo: binary.BigEndian.Uint16(k[8:]), rev: t.revs[i], idx: int32(i)}
	}
	slices.SortFunc(keys, func(x, y loadKey) int {
		return cmp.Or(cmp.Compare(x.hi, y.hi), cmp.Compare(x.lo, y.lo), cmp.Compare(x.rev, y.rev))
	})
	out := make([]entry, 0, len(t.entries))
	for i, k := range keys {
		e := &t.entries[k.idx]
		if i+1 < len(keys) && keys[i+1].hi == k.hi && keys[i+1].lo == k.lo || e.state == tombstone {
			continue
		}
		out = append(out, *e)
	}
	t.entries, t.revs = out, nil
}
