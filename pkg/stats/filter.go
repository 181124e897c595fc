package stats

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrInvalid wraps a filter or query that asks for something that does
// not exist (an unknown route, sort or order).
var ErrInvalid = errors.New("invalid query")

// ErrLoading is returned while the aggregate has not loaded the cases
// bucket yet (the first seconds after a start).
var ErrLoading = errors.New("statistics are still loading")

// Filter selects the cases the figures are computed over. The zero value
// selects every case.
type Filter struct {
	// From and To select on the case's confirmation time (the earliest
	// confirmed_at of its reports): From inclusive, To exclusive; zero is
	// open-ended.
	From, To time.Time
	// Country is the hosting country (ISO 3166-1 alpha-2, any case), or
	// "unknown" for cases without one.
	Country string
	// Hoster is a hoster key (HosterKey).
	Hoster string
	// Route is a route kind (hoster, partner, cdn, review, none) or
	// "unrouted".
	Route string
	// Scope, when set, limits the cases to those the token may see.
	Scope *Scope
}

// Scope limits the cases a token sees, as its role binds it (a partner
// hotline, a hoster's abuse desk). A case is in the scope when a notice
// or forward of it went out and any of the bindings holds; a Scope with
// no binding at all sees nothing. A nil *Scope sees every case.
type Scope struct {
	// Partners are partner hotline names: cases routed to one of them.
	Partners []string `json:"partners,omitempty"`
	// Domains are mail domains: cases whose notices reached an address at
	// one of them or a name below it (abuse@nl.example.com is under
	// example.com).
	Domains []string `json:"domains,omitempty"`
	// ASNs are autonomous systems: cases hosted on one of them.
	ASNs []uint32 `json:"asns,omitempty"`
}

// RouteNames lists the values Filter.Route accepts.
func RouteNames() []string { return slices.Clone(routeNames[:routeOther]) }

// Validate checks the filter's words.
func (f Filter) Validate() error {
	if f.Route != "" && !slices.Contains(RouteNames(), f.Route) {
		return fmt.Errorf("route: unknown route %q (want one of %s): %w", f.Route, strings.Join(RouteNames(), ", "), ErrInvalid)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return fmt.Errorf("from: must be before to: %w", ErrInvalid)
	}
	return nil
}

func (f Filter) view() FilterView {
	v := FilterView{Basis: "confirmed_at", Country: f.Country, Hoster: f.Hoster, Route: f.Route, Scope: f.Scope}
	if !f.From.IsZero() {
		t := f.From.UTC()
		v.From = &t
	}
	if !f.To.IsZero() {
		t := f.To.UTC()
		v.To = &t
	}
	return v
}

// matcher is a filter compiled against one table's ids.
type matcher struct {
	from, to int64
	none     bool // selects nothing
	country  int  // -1 any
	hoster   int
	route    int
	scoped   bool
	partners []uint16
	domains  []bool // by domain id
	asns     []uint32
}

func (t *table) compile(f Filter) matcher {
	m := matcher{country: -1, hoster: -1, route: -1, from: unixNano(f.From), to: unixNano(f.To)}
	if f.Country != "" {
		c := strings.ToUpper(f.Country)
		if strings.EqualFold(f.Country, "unknown") {
			c = ""
		}
		id, ok := t.countries.lookup(c)
		m.country, m.none = int(id), m.none || !ok
	}
	if f.Hoster != "" {
		id, ok := t.hosters.lookup(NormalHosterKey(f.Hoster))
		m.hoster, m.none = int(id), m.none || !ok
	}
	if f.Route != "" {
		m.route = int(routeIndex(f.Route))
		if f.Route == "unrouted" {
			m.route = routeUnrouted
		}
	}
	if s := f.Scope; s != nil {
		m.scoped = true
		for _, p := range s.Partners {
			if id, ok := t.partners.lookup(strings.ToLower(p)); ok && id != 0 {
				m.partners = append(m.partners, uint16(id))
			}
		}
		if len(s.Domains) > 0 {
			m.domains = make([]bool, t.domains.size())
			for id, d := range t.domains.names {
				m.domains[id] = d != "" && slices.ContainsFunc(s.Domains, func(want string) bool { return underDomain(d, want) })
			}
		}
		m.asns = s.ASNs
	}
	return m
}

// NormalHosterKey is a hoster key as the statistics write it, whatever
// case it is asked in: domains lower case, "AS" and the number for an AS.
func NormalHosterKey(k string) string {
	if len(k) > 2 && strings.EqualFold(k[:2], "as") && strings.Trim(k[2:], "0123456789") == "" {
		return "AS" + k[2:]
	}
	return strings.ToLower(k)
}

// underDomain reports whether d is want or a name below it.
func underDomain(d, want string) bool {
	want = strings.ToLower(strings.TrimSuffix(want, "."))
	return want != "" && (d == want || strings.HasSuffix(d, "."+want))
}

func (m *matcher) match(e *entry) bool {
	switch {
	case m.none:
		return false
	case m.from != 0 && e.confirmed < m.from, m.to != 0 && e.confirmed >= m.to:
		return false
	case m.country >= 0 && int(e.country) != m.country:
		return false
	case m.hoster >= 0 && int(e.hoster) != m.hoster:
		return false
	case m.route >= 0 && int(e.route) != m.route:
		return false
	}
	return !m.scoped || m.inScope(e)
}

func (m *matcher) inScope(e *entry) bool {
	if e.firstNotice == 0 {
		return false
	}
	if slices.Contains(m.partners, e.partner) {
		return true
	}
	if m.domains != nil {
		if m.domainMatch(e.noticed) {
			return true
		}
		if e.more != nil && slices.ContainsFunc(e.more.noticed, m.domainMatch) {
			return true
		}
	}
	if len(m.asns) > 0 {
		if slices.Contains(m.asns, e.asn) {
			return true
		}
		if e.more != nil && slices.ContainsFunc(e.more.asns, func(n uint32) bool { return slices.Contains(m.asns, n) }) {
			return true
		}
	}
	return false
}

func (m *matcher) domainMatch(d uint32) bool {
	return d != 0 && int(d) < len(m.domains) && m.domains[d]
}
