package scope

import (
	"regexp"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// What a partner hotline or a hoster sees of a case it may see. Both are
// outside the hotline: neither sees the hotline's own workings (a pause,
// which may be an investigation's; analysts' notes; report sources;
// enrichment problems; why the case stands where it does). A hoster also
// sees no address but its own: other contacts, other notices' recipients
// and the events that name them are left out.

// Case returns c as the scope may see it; false when it may not see it.
func (s Scope) Case(c takedown.Case) (takedown.Case, bool) {
	if s.All() {
		return c, true
	}
	if !s.Sees(c) {
		return takedown.Case{}, false
	}
	o := s.viewerOf(c)
	out := takedown.Case{
		ID: c.ID, URL: c.URL, OriginalURL: c.OriginalURL, Host: c.Host, Domain: c.Domain,
		State: c.State, ReceivedAt: c.ReceivedAt, UpdatedAt: c.UpdatedAt,
		Priority: c.Priority, Classification: c.Classification, Hashes: c.Hashes,
		ReportCount: c.ReportCount, Checks: c.Checks,
	}
	for _, r := range c.Reports {
		out.Reports = append(out.Reports, takedown.ReportRef{
			ReportID: r.ReportID, ReceivedAt: r.ReceivedAt, ConfirmedAt: r.ConfirmedAt,
			Classification: r.Classification, MediaType: r.MediaType, Hashes: r.Hashes, Priority: r.Priority,
		})
	}
	out.Enrichment = o.enrichment(c.Enrichment)
	out.Routing = o.routing(c.Routing)
	for _, n := range c.Notices {
		if o.seesNotice(n) {
			out.Notices = append(out.Notices, n)
		}
	}
	return out, true
}

func (o viewer) enrichment(e *takedown.Enrichment) *takedown.Enrichment {
	if e == nil {
		return nil
	}
	out := &takedown.Enrichment{
		At: e.At, Host: e.Host, IPLiteral: e.IPLiteral, CNAMEs: e.CNAMEs, Addresses: e.Addresses,
		Networks: e.Networks, Country: e.Country,
	}
	for _, ct := range e.Contacts {
		if o.owns(ct.Email) {
			out.Contacts = append(out.Contacts, ct)
		}
	}
	if r := e.Registrar; r != nil {
		reg := &takedown.Registrar{Name: r.Name, IANAID: r.IANAID, Source: r.Source}
		if r.Abuse != nil && o.owns(r.Abuse.Email) {
			reg.Abuse = r.Abuse
		}
		out.Registrar = reg
	}
	if cdn := e.CDN; cdn != nil {
		out.CDN = &takedown.CDN{Name: cdn.Name, MatchedBy: cdn.MatchedBy, OriginUnknown: cdn.OriginUnknown}
		if cdn.Contact != nil && o.owns(cdn.Contact.Email) {
			out.CDN.Contact = cdn.Contact
		}
	}
	return out
}

func (o viewer) routing(r *takedown.Routing) *takedown.Routing {
	if r == nil {
		return nil
	}
	out := &takedown.Routing{At: r.At, Kind: r.Kind, Country: r.Country, Lang: r.Lang, Channel: r.Channel}
	if o.s.Role == Partner {
		out.Partner = r.Partner
	}
	for _, ct := range r.Contacts {
		if o.owns(ct.Email) {
			out.Contacts = append(out.Contacts, ct)
		}
	}
	for _, f := range r.Failing {
		if o.owns(f) {
			out.Failing = append(out.Failing, f)
		}
	}
	return out
}

// Stage events an outside party sees (with their reason, without their
// data), when they name nobody else.
var (
	hosterEvents = []takedown.EventType{
		takedown.EventReceived, takedown.EventReportJoined, takedown.EventEnriched, takedown.EventUnresolvable,
		takedown.EventNotActionable, takedown.EventRouted, takedown.EventReview, takedown.EventNoticed,
		takedown.EventNoticeFailed, takedown.EventNoticeDelayed, takedown.EventReplied, takedown.EventChecked,
		takedown.EventRemoved, takedown.EventReopened, takedown.EventMoved, takedown.EventReminder,
		takedown.EventEscalated, takedown.EventClosed, takedown.EventFreshAttempt,
	}
	partnerEvents = append(slices.Clone(hosterEvents), takedown.EventForwarded, takedown.EventForwardFailed)
	// Others' actions an outside party sees happened, without who, why or
	// how: a close, a removal someone reported, a check someone asked for.
	othersActions = []takedown.EventType{takedown.EventClosed, takedown.EventRemovalReported, takedown.EventCheckRequested}
)

// Timeline returns the events of c (as stored, not redacted) the scope may
// see, redacted. Its own actions it sees whole.
func (s Scope) Timeline(c takedown.Case, events []takedown.Event) []takedown.Event {
	if s.All() {
		return events
	}
	out := []takedown.Event{}
	if !s.Sees(c) {
		return out
	}
	o := s.viewerOf(c)
	allowed := hosterEvents
	if s.Role == Partner {
		allowed = partnerEvents
	}
	for _, ev := range events {
		bare := takedown.Event{ID: ev.ID, CaseID: ev.CaseID, Type: ev.Type, At: ev.At, From: ev.From, To: ev.To, Seq: ev.Seq}
		switch {
		case ev.Action() != "" && ev.Actor == s.Token:
			out = append(out, ev)
		case ev.Action() != "":
			if slices.Contains(othersActions, ev.Type) {
				bare.Actor = "hotline"
				out = append(out, bare)
			}
		case slices.Contains(allowed, ev.Type) && !o.namesOthers(ev.Reason):
			bare.Actor, bare.Reason = ev.Actor, ev.Reason
			out = append(out, bare)
		}
	}
	return out
}

// Notice returns the notice as the scope may see it; false when it may not
// see it. cases are the notice's cases as stored (not redacted): what
// shows whether it went to a hoster the scope is bound to by ASN, and
// which of its URLs the scope sees.
func (s Scope) Notice(n takedown.Notice, cases []takedown.Case) (takedown.Notice, bool) {
	if s.All() {
		return n, true
	}
	var seen []string
	for _, c := range cases {
		ref := takedown.NoticeRef{Ref: n.Ref, Kind: n.Kind, Level: n.Level, Channel: n.Channel, To: n.To, Partner: n.Partner}
		if s.Sees(c) && s.viewerOf(c).seesNotice(ref) {
			seen = append(seen, c.ID)
		}
	}
	if len(seen) == 0 {
		return takedown.Notice{}, false
	}
	keep := func(ids []string) []string {
		return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !slices.Contains(seen, id) })
	}
	out := n
	out.Cases, out.Dropped = keep(n.Cases), keep(n.Dropped)
	out.Items = slices.DeleteFunc(slices.Clone(n.Items), func(it takedown.NoticeItem) bool { return !slices.Contains(seen, it.CaseID) })
	return out, true
}

// viewer is an outside scope looking at one case: which addresses on it
// are its own.
type viewer struct {
	s    Scope
	c    takedown.Case
	mine map[string]bool
}

func (s Scope) viewerOf(c takedown.Case) viewer {
	o := viewer{s: s, c: c, mine: map[string]bool{}}
	switch s.Role {
	case Hoster:
		// Bound by ASN, its addresses are those of the case's current
		// hoster (or CDN) that were noticed, while the case is in its AS.
		if c.Enrichment != nil && slices.ContainsFunc(c.Enrichment.Addresses, func(a takedown.AddressInfo) bool { return slices.Contains(s.ASNs, a.ASN) }) {
			for _, a := range c.NoticedHosters() {
				o.mine[a] = true
			}
		}
	case Partner:
		// A partner hotline acts on the hosting facts: it sees the case's
		// contacts, and its own address.
		if s.Partner != nil && s.Partner.Address != "" {
			o.mine[strings.ToLower(s.Partner.Address)] = true
		}
		if e := c.Enrichment; e != nil {
			for _, ct := range e.Contacts {
				o.mine[strings.ToLower(ct.Email)] = true
			}
			if e.Registrar != nil && e.Registrar.Abuse != nil {
				o.mine[strings.ToLower(e.Registrar.Abuse.Email)] = true
			}
			if e.CDN != nil && e.CDN.Contact != nil {
				o.mine[strings.ToLower(e.CDN.Contact.Email)] = true
			}
		}
	}
	return o
}

// owns reports whether the address is one the scope may see on this case.
func (o viewer) owns(addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return false
	}
	if o.mine[addr] {
		return true
	}
	if o.s.Role != Hoster {
		return false
	}
	for _, d := range takedown.DomainsOf(addr) {
		for _, mine := range o.s.Domains {
			if strings.EqualFold(strings.TrimSuffix(mine, "."), d) {
				return true
			}
		}
	}
	return false
}

// seesNotice reports whether a notice of the case is one the scope sees:
// a partner its forwards, a hoster those addressed to it.
func (o viewer) seesNotice(n takedown.NoticeRef) bool {
	forward := n.Kind == takedown.NoticeKindForward || n.Level == takedown.NoticeLevelPartner
	if o.s.Role == Partner {
		p := o.s.Partner
		if !forward || p == nil {
			return false
		}
		country := n.Partner
		if country == "" && o.c.Routing != nil && o.c.Routing.Kind == takedown.RoutePartner {
			country = o.c.Routing.Country
		}
		return strings.EqualFold(country, p.Country) || p.Address != "" && strings.EqualFold(n.To, p.Address)
	}
	return !forward && o.owns(n.To)
}

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+`)
	urlPattern   = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>()]+`)
)

// namesOthers reports whether text names an address the scope may not see
// or a URL other than the case's own.
func (o viewer) namesOthers(text string) bool {
	for _, u := range urlPattern.FindAllString(text, -1) {
		u = strings.TrimRight(u, ".,;:")
		if u != o.c.URL && u != o.c.OriginalURL && !o.owns(u) {
			return true
		}
	}
	text = urlPattern.ReplaceAllString(text, " ")
	for _, e := range emailPattern.FindAllString(text, -1) {
		if !o.owns(e) {
			return true
		}
	}
	return false
}
