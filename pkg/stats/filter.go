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
	// Audiences, when not nil, limits the cases to those that carry one
	// of these audience keys (takedown.Case.Audiences): the cases an
	// outside token sees (scope.Scope.Audiences). Empty and not nil
	// selects none. Nil selects every case.
	Audiences []string
	// Own, when set, limits the hosters listed to a hoster token's own.
	Own *Own
}

// Own is what a hoster token is bound to: it sees, among the hosters,
// those whose key is one of the domains (or a name below one) and those
// seen hosting on one of the ASes — itself, never another hoster.
type Own struct {
	Domains []string `json:"domains,omitempty"`
	ASNs    []uint   `json:"asns,omitempty"`
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
	v := FilterView{Basis: "confirmed_at", Country: f.Country, Hoster: f.Hoster, Route: f.Route, Scoped: f.Audiences != nil}
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
	// audiences, when not nil, says of each audience set whether it
	// holds one of the filter's keys.
	audiences []bool
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
	if f.Audiences != nil {
		m.audiences = make([]bool, len(t.audSets))
		for id, set := range t.audSets {
			m.audiences[id] = slices.ContainsFunc(set, func(k string) bool { return slices.Contains(f.Audiences, k) })
		}
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
	return m.audiences == nil || int(e.audience) < len(m.audiences) && m.audiences[e.audience]
}
