package contactbook

import (
	"net/netip"
	"strconv"
	"strings"
)

// Lookuper is a contact book to look a case up in: a *Book, or a layer
// kept elsewhere (package kvbook).
type Lookuper interface {
	Lookup(host string, addrs []netip.Addr, asns []uint) (Match, bool)
}

var _ Lookuper = (*Book)(nil)

// Layers is a contact book made of several: a case gets the most specific
// match of any layer, by the one rule of a single book (a domain before a
// network before an AS; the longest name, the longest prefix); where two
// layers match equally specifically — both claim the same domain, say —
// the earlier layer wins. Nil layers are skipped.
type Layers []Lookuper

// Lookup implements Lookuper.
func (l Layers) Lookup(host string, addrs []netip.Addr, asns []uint) (Match, bool) {
	var best Match
	found := false
	for _, layer := range l {
		if layer == nil {
			continue
		}
		m, ok := layer.Lookup(host, addrs, asns)
		if ok && (!found || m.specificity() > best.specificity()) {
			best, found = m, true
		}
	}
	return best, found
}

// specificity orders matches: the kind first (domain, network, AS), then
// within a domain its number of labels, within a network its prefix length.
func (m Match) specificity() int {
	kind, value, _ := strings.Cut(m.By, ":")
	switch kind {
	case KindDomain:
		return 3000 + strings.Count(value, ".") + 1
	case KindNetwork:
		if i := strings.LastIndexByte(value, '/'); i >= 0 {
			bits, _ := strconv.Atoi(value[i+1:])
			return 2000 + bits
		}
		return 2000
	case KindASN:
		return 1000
	}
	return 0
}
