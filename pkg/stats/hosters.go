package stats

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrUnknownHoster is returned for a hoster no selected case names.
var ErrUnknownHoster = errors.New("no such hoster")

// HosterSorts lists the figures GET /v1/hosters sorts by.
var HosterSorts = []string{
	"p90_removal", "p50_removal", "removed_within_24h", "cases", "open", "removed",
	"reminders", "escalations", "reappearances", "failed_notices", "bounced_contacts", "id",
}

// HosterQuery asks for a page of hosters.
type HosterQuery struct {
	Filter Filter
	// Sort is one of HosterSorts (default p90_removal); Order is "desc"
	// (the default: the slowest first) or "asc".
	Sort  string
	Order string
	// Offset and Limit select the page; Limit 0 is every hoster.
	Offset, Limit int
}

// hosterAcc collects one hoster's figures in a pass.
type hosterAcc struct {
	h      Hoster
	within [1]Within
	start  int // where its removal times start in the shared slice
	n      int
}

// Hosters returns a page of the hosters of the cases q.Filter selects.
// Under a scope that binds domains or ASes (a hoster's token), only the
// hosters those bindings name are listed, so that a hoster sees itself
// and no other's contacts.
func (a *Aggregate) Hosters(q HosterQuery) (HosterList, error) {
	if q.Sort == "" {
		q.Sort = "p90_removal"
	}
	if q.Order == "" {
		q.Order = "desc"
	}
	if !slices.Contains(HosterSorts, q.Sort) {
		return HosterList{}, fmt.Errorf("sort: unknown figure %q (want one of %s): %w", q.Sort, strings.Join(HosterSorts, ", "), ErrInvalid)
	}
	if q.Order != "asc" && q.Order != "desc" {
		return HosterList{}, fmt.Errorf("order: want asc or desc, not %q: %w", q.Order, ErrInvalid)
	}
	if q.Offset < 0 || q.Limit < 0 {
		return HosterList{}, fmt.Errorf("offset and limit: must not be negative: %w", ErrInvalid)
	}
	all, now, err := a.hosters(q.Filter, "")
	if err != nil {
		return HosterList{}, err
	}
	sortHosters(all, q.Sort, q.Order == "desc")
	out := HosterList{Filter: q.Filter.view(), Sort: q.Sort, Order: q.Order, GeneratedAt: now.UTC(), Total: len(all), Offset: q.Offset}
	page := all[min(q.Offset, len(all)):]
	if q.Limit > 0 && len(page) > q.Limit {
		page = page[:q.Limit]
	}
	out.Hosters = page
	if out.Hosters == nil {
		out.Hosters = []Hoster{}
	}
	return out, nil
}

// Hoster returns one hoster's figures over the cases f selects.
func (a *Aggregate) Hoster(id string, f Filter) (Hoster, error) {
	list, _, err := a.hosters(f, NormalHosterKey(id))
	if err != nil {
		return Hoster{}, err
	}
	if len(list) == 0 {
		return Hoster{}, fmt.Errorf("hoster %q: %w", id, ErrUnknownHoster)
	}
	return list[0], nil
}

// hosters computes the figures of every hoster of the selected cases
// (only of the one named by only, when set).
func (a *Aggregate) hosters(f Filter, only string) ([]Hoster, time.Time, error) {
	if err := f.Validate(); err != nil {
		return nil, time.Time{}, err
	}
	now := a.opts.Now()
	b := a.bufs.get()
	defer a.bufs.put(b)
	accs, err := a.scanHosters(f, only, now.UnixNano(), b)
	if err != nil || accs == nil {
		return nil, now, err
	}
	// Removal times grouped by hoster, outside the lock: counted, then
	// placed, then each hoster's own percentiles selected.
	for _, id := range b.ids {
		accs[id].n++
	}
	off := 0
	for _, acc := range accs {
		if acc != nil {
			acc.start, off = off, off+acc.n
			acc.n = 0
		}
	}
	flat := b.removal[:0]
	flat = append(flat, make([]uint64, len(b.ids))...)
	for i, id := range b.ids {
		acc := accs[id]
		flat[acc.start+acc.n] = b.reaction[i]
		acc.n++
	}
	b.removal = flat
	var out []Hoster
	for _, acc := range accs {
		if acc == nil {
			continue
		}
		h := acc.h
		h.NoticeToRemoval = durations(flat[acc.start : acc.start+acc.n])
		h.P50RemovalSeconds, h.P90RemovalSeconds = h.NoticeToRemoval.P50, h.NoticeToRemoval.P90
		h.RemovedWithin24h = finishWithin(acc.within[:], oneDay)[0]
		out = append(out, h)
	}
	return out, now, nil
}

// scanHosters is the pass over the summaries, under the read lock: each
// selected hoster's counts and description, and in b the removal times
// (b.reaction) with their hoster ids (b.ids). Nil accs: no such hoster.
func (a *Aggregate) scanHosters(f Filter, only string, now int64, b *buffers) ([]*hosterAcc, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	t := a.cur
	if t == nil {
		return nil, ErrLoading
	}
	if only != "" {
		if _, ok := t.hosters.lookup(only); !ok {
			return nil, nil
		}
		f.Hoster = only
	}
	m := t.compile(f)
	listed := t.listable(f.Own)
	accs := make([]*hosterAcc, t.hosters.size())
	type bounce struct{ hoster, addr uint32 }
	var bounces []bounce
	b.ids = b.ids[:0]
	for i := range t.entries {
		e := &t.entries[i]
		if !m.match(e) || (listed != nil && !listed[e.hoster]) {
			continue
		}
		acc := accs[e.hoster]
		if acc == nil {
			acc = &hosterAcc{}
			accs[e.hoster] = acc
		}
		h := &acc.h
		h.Cases++
		if e.open() {
			h.Open++
		}
		h.Reminders += int(e.reminders)
		h.Escalations += int(e.escalations)
		h.Reappearances += int(e.reopened)
		h.FailedNotices += int(e.failed)
		if e.more != nil {
			for _, addr := range e.more.failing {
				bounces = append(bounces, bounce{e.hoster, addr})
			}
		}
		if e.removed != 0 {
			h.Removed++
			if e.firstNotice != 0 {
				b.ids = append(b.ids, e.hoster)
				b.reaction = append(b.reaction, since(e.firstNotice, e.removed))
			}
		}
		if e.firstNotice != 0 {
			countWithin(acc.within[:], oneDay, e.removed, e.firstNotice, now, !e.open())
		}
	}
	slices.SortFunc(bounces, func(x, y bounce) int { return cmp.Or(cmp.Compare(x.hoster, y.hoster), cmp.Compare(x.addr, y.addr)) })
	for _, bc := range slices.Compact(bounces) {
		h := &accs[bc.hoster].h
		h.BouncedContacts++
		if addr, ok := t.plain[bc.addr]; ok {
			h.BouncedAddresses = append(h.BouncedAddresses, addr)
		}
	}
	for id, acc := range accs {
		if acc != nil {
			slices.Sort(acc.h.BouncedAddresses)
			acc.h.ID = t.hosters.name(uint32(id))
			t.describe(&acc.h, uint32(id))
		}
	}
	return accs, nil
}

// listable is, for a hoster token, which hosters may be listed: those
// whose key is under one of its domains or that were seen on one of its
// ASes. Nil: every hoster of the selected cases.
func (t *table) listable(s *Own) []bool {
	if s == nil {
		return nil
	}
	ok := make([]bool, t.hosters.size())
	for id, key := range t.hosters.names {
		if slices.ContainsFunc(s.Domains, func(d string) bool { return underDomain(key, d) }) {
			ok[id] = true
			continue
		}
		if id < len(t.about) && t.about[id] != nil {
			ok[id] = slices.ContainsFunc(t.about[id].asns, func(n uint32) bool { return slices.Contains(s.ASNs, uint(n)) })
		}
	}
	return ok
}

// describe fills in what the hoster was seen with.
func (t *table) describe(h *Hoster, id uint32) {
	h.ASNs, h.Networks = []uint32{}, []string{}
	if int(id) >= len(t.about) || t.about[id] == nil {
		return
	}
	ab := t.about[id]
	h.ASNs = slices.Sorted(slices.Values(ab.asns))
	for _, n := range h.ASNs {
		if name := t.asNames[n]; name != "" {
			h.ASNames = append(h.ASNames, name)
		}
	}
	for _, n := range ab.networks {
		h.Networks = append(h.Networks, t.networks.name(n))
	}
	slices.Sort(h.Networks)
	for _, c := range ab.contacts {
		h.Contacts = append(h.Contacts, t.addrs.name(c))
	}
	slices.Sort(h.Contacts)
}

// sortHosters orders hosters by the figure named, those without it last,
// ties by id.
func sortHosters(hs []Hoster, by string, desc bool) {
	key := func(h *Hoster) (float64, bool) {
		switch by {
		case "p90_removal":
			return deref(h.P90RemovalSeconds)
		case "p50_removal":
			return deref(h.P50RemovalSeconds)
		case "removed_within_24h":
			return deref(h.RemovedWithin24h.Share)
		case "cases":
			return float64(h.Cases), true
		case "open":
			return float64(h.Open), true
		case "removed":
			return float64(h.Removed), true
		case "reminders":
			return float64(h.Reminders), true
		case "escalations":
			return float64(h.Escalations), true
		case "reappearances":
			return float64(h.Reappearances), true
		case "failed_notices":
			return float64(h.FailedNotices), true
		case "bounced_contacts":
			return float64(h.BouncedContacts), true
		}
		return 0, false
	}
	slices.SortFunc(hs, func(x, y Hoster) int {
		if by == "id" {
			c := strings.Compare(x.ID, y.ID)
			if desc {
				c = -c
			}
			return c
		}
		kx, okx := key(&x)
		ky, oky := key(&y)
		switch {
		case okx != oky:
			if okx {
				return -1
			}
			return 1
		case kx != ky:
			c := cmp.Compare(kx, ky)
			if desc {
				c = -c
			}
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
}

func deref(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}
