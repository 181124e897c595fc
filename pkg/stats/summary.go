package stats

import (
	"slices"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// What a case counts as, decided once here (and documented in the README
// under Statistics):
//
//   - Its time is its confirmation: the earliest confirmed_at of its
//     reports (the received time when it has none). from/to select on it.
//   - Its first notice is the earliest first notice or forward recorded
//     as sent; one that bounced or failed does not count (it reached
//     nobody), so a case whose first contact bounced is first noticed
//     when the next contact got it.
//   - Its removal is the first confirmed removal (the first of the gone
//     results that confirmed it). When the material came back, the case
//     reopened and was removed again, the time still counts from the
//     first: that is when the hoster acted; each reappearance is counted
//     on its own.
//   - Reminders and escalations are those recorded as sent on the case.
//   - An open case is in every count, but in the removal times only once
//     its removal is confirmed.

// Indexes of the route kinds a summary stores ("unrouted": not routed
// yet; "other": a kind this version does not know).
var routeNames = []string{"unrouted", takedown.RouteHoster, takedown.RoutePartner, takedown.RouteCDN, takedown.RouteReview, takedown.RouteNone, "other"}

const (
	routeUnrouted = 0
	routeOther    = 6
)

func routeIndex(kind string) uint8 {
	if kind == "" {
		return routeUnrouted
	}
	if i := slices.Index(routeNames, kind); i > 0 {
		return uint8(i)
	}
	return routeOther
}

// stateOther is the index of a state this version does not know.
var stateOther = uint8(len(takedown.States))

func stateIndex(s takedown.State) uint8 {
	if i := slices.Index(takedown.States, s); i >= 0 {
		return uint8(i)
	}
	return stateOther
}

func stateName(i uint8) string {
	if int(i) < len(takedown.States) {
		return string(takedown.States[i])
	}
	return "other"
}

var closedIndex = stateIndex(takedown.StateClosed)

// Flags of an entry.
const (
	flagDomestic uint8 = 1 << iota
	flagCountryKnown
	flagAnonymised
	// flagComplete: anonymised, the timeline redacted too.
	flagComplete
)

// entry is the summary of one case the aggregate keeps: 80 bytes, of
// which strings are ids into the aggregate's tables. Times are Unix
// nanoseconds (exact to what the case records), 0 for none.
type entry struct {
	key         caseKey
	state       uint8
	route       uint8
	flags       uint8
	country     uint16
	hoster      uint32
	audience    uint32 // the set of its audience keys
	reminders   uint16
	escalations uint16
	failed      uint16 // notices that failed or bounced
	reopened    uint16
	confirmed   int64
	firstNotice int64
	removed     int64
	closed      int64 // when a closed case last changed
	urlHash     uint64
	more        *extra
}

// extra holds the rare lists of an entry: more than one AS, notices to
// more than one domain, contacts that failed.
type extra struct {
	asns    []uint32
	noticed []uint32
	failing []uint32
}

func (e *entry) open() bool { return e.state != closedIndex }

// facts is what a case says about itself for the statistics, as strings;
// the aggregate interns it into an entry.
type facts struct {
	key     caseKey
	state   takedown.State
	route   string
	country string
	hoster  string
	// audiences are the case's audience keys (takedown.Case.Audiences):
	// who outside the hotline was told, the one rule of what a partner's
	// or a hoster's token sees.
	audiences []string
	// asns, asNames, networks and contacts (the hoster's abuse addresses)
	// describe the hoster on its page.
	asns     []uint32
	asNames  []string
	networks []string
	contacts []string
	// failing are the keyed hashes of the addresses that failed (an
	// anonymised case keeps only those), and plain the addresses of the
	// hashes a case not anonymised still names.
	failing     []string
	plain       map[string]string
	reminders   int
	escalations int
	failed      int
	reopened    int
	confirmed   time.Time
	firstNotice time.Time
	removed     time.Time
	closed      time.Time
	anonymised  bool
	complete    bool
	urlHash     uint64
}

// factsOf reads a case. home is the hotline's country; h hashes the URL
// of a case that is not anonymised yet (nil: no hash).
func factsOf(c *takedown.Case, home string, h *URLHasher) (facts, bool) {
	k, ok := keyOf(c.ID)
	if !ok {
		return facts{}, false
	}
	f := facts{key: k, state: c.State, hoster: HosterKey(c), confirmed: c.FirstConfirmedAt(), audiences: c.Audiences()}
	if f.confirmed.IsZero() {
		f.confirmed = c.ReceivedAt
	}
	if f.confirmed.IsZero() {
		f.confirmed, _ = store.CaseIDTime(c.ID)
	}
	if c.State == takedown.StateClosed {
		f.closed = LastChange(c)
	}
	if r := c.Routing; r != nil {
		f.route = r.Kind
		for _, addr := range r.Failing {
			addr = strings.ToLower(addr)
			sum := addr
			if h != nil {
				sum = h.Sum(addr)
			}
			if f.plain == nil {
				f.plain = map[string]string{}
			}
			f.plain[sum] = addr
			f.failing = appendNew(f.failing, sum)
		}
	}
	if e := c.Enrichment; e != nil {
		f.country = strings.ToUpper(e.Country.Country)
		for _, a := range e.Addresses {
			if a.ASN != 0 && !slices.Contains(f.asns, uint32(a.ASN)) {
				f.asns = append(f.asns, uint32(a.ASN))
				f.asNames = append(f.asNames, a.ASName)
			}
			if a.Network != "" && !slices.Contains(f.networks, a.Network) {
				f.networks = append(f.networks, a.Network)
			}
		}
		for _, ct := range e.Contacts {
			if ct.Email != "" && Organisation(MailDomain(ct.Email)) == f.hoster {
				f.contacts = append(f.contacts, strings.ToLower(ct.Email))
			}
		}
	}
	if f.country == "" && c.Routing != nil {
		f.country = strings.ToUpper(c.Routing.Country)
	}
	cf := FiguresOf(c)
	f.firstNotice, f.removed, f.reopened = cf.FirstNotice, cf.Removed, cf.Reopened
	f.reminders, f.escalations, f.failed = cf.Reminders, cf.Escalations, cf.FailedNotices
	if a := c.Anonymised; a != nil {
		f.anonymised, f.complete = true, a.TimelineRedacted
		f.urlHash = shortOfHex(a.URLHash)
		f.failing = appendNew(f.failing, a.FailingContacts...)
	} else if h != nil && c.URL != "" {
		f.urlHash = h.short(c.URL)
	}
	return f, true
}

// CaseFigures are the figures one case contributes, counted by the rules
// at the top of this file.
type CaseFigures struct {
	FirstNotice   time.Time // zero: none sent
	Removed       time.Time // the first confirmed removal; zero: none
	Reminders     int
	Escalations   int
	FailedNotices int
	Reopened      int
}

// FiguresOf counts what a case contributes to the statistics (the CSV of
// GET /v1/cases shows the same).
func FiguresOf(c *takedown.Case) CaseFigures {
	var cf CaseFigures
	for _, n := range c.Notices {
		switch {
		case n.Outcome == "failed":
			cf.FailedNotices++
			continue
		case n.Outcome != "sent":
			continue
		}
		switch n.Kind {
		case takedown.NoticeKindFirst, takedown.NoticeKindForward, "":
			if cf.FirstNotice.IsZero() || n.At.Before(cf.FirstNotice) {
				cf.FirstNotice = n.At
			}
		case "reminder":
			cf.Reminders++
		case "escalation":
			cf.Escalations++
		}
	}
	if cs := c.Checks; cs != nil {
		cf.Removed, cf.Reopened = cs.FirstRemovedAt, cs.Reopened
		if cf.Removed.IsZero() {
			// Recorded before first_removed_at existed: the removal it has.
			cf.Removed = cs.RemovedAt
		}
	}
	return cf
}

// LastChange is when the case last changed (its received time for a
// record that never said): retention counts a closed case's age from it.
func LastChange(c *takedown.Case) time.Time {
	if c.UpdatedAt.IsZero() {
		return c.ReceivedAt
	}
	return c.UpdatedAt
}

func appendNew(list []string, more ...string) []string {
	for _, s := range more {
		if s != "" && !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
