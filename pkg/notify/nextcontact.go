package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// plan is what routing decided for a case: the routing it records, the
// first notice to queue (nil: none), or that nobody is left (review).
type plan struct {
	routing takedown.Routing
	notice  *takedown.Notice
	review  bool
	reason  string
	// told: the contact the routing names has a first notice that stands
	// (a re-enrichment found the same hoster); kind is that notice's kind.
	told bool
	kind string
	// after is set when the plan follows a failed delivery.
	after bool
}

// state is where the plan puts the case. A case that was noticed and
// whose notice failed keeps its state: the next contact is told, its
// checks go on, nothing moves back. Only when nobody is left does it go
// to review, with the reason, and keep its checks there.
func (p plan) state(c takedown.Case) takedown.State {
	switch {
	case p.review:
		if c.State.CanMoveTo(takedown.StateReview) {
			return takedown.StateReview
		}
		return c.State
	case p.after && c.State != takedown.StateEnriched && c.State != takedown.StateRouted:
		return c.State
	case p.notice != nil:
		return takedown.StateRouted
	case p.told && p.kind == string(notice.KindForward):
		return takedown.StateForwarded
	case p.told:
		return takedown.StateNoticed
	}
	return c.State
}

// nextStep decides who is told about the case. failing lists the
// addresses it must not be sent to; failed is the notice that did not
// arrive, when the routing follows a failed delivery.
//
// The order in which contacts are told is the route's own (route.Decide:
// the hoster's contacts, the CDN's, the partner hotline), then the route's
// escalation chain (recheck.routes.<kind>.escalate: upstream, registrar),
// each level's working contacts in order. A failed delivery moves to the
// next working contact in that order, from the failed notice's level on;
// a first routing whose route contacts are all failing starts at the
// chain. The authority is never told for a bounce: it is asked for a
// removal order when the material stays online (re-checks escalate to it
// on time), not because an address does not work.
func (s *Stage) nextStep(c takedown.Case, failing []string, failed *takedown.Notice) plan {
	after := failed != nil
	level := ""
	if after {
		level = failed.Level
	}
	if level == "" || isRouteLevel(level) {
		p, exhausted := s.routeStep(c, failing, failed)
		if !exhausted {
			return p
		}
		return s.chainStep(c, failing, failed, 0)
	}
	chain := s.chain(c)
	return s.chainStep(c, failing, failed, max(slices.Index(chain, level), 0))
}

func isRouteLevel(level string) bool {
	switch level {
	case string(notice.LevelHoster), string(notice.LevelCDN), string(notice.LevelPartner):
		return true
	}
	return false
}

// routeStep is the route's own decision; exhausted says that the route
// would name someone but every contact it has is failing.
func (s *Stage) routeStep(c takedown.Case, failing []string, failed *takedown.Notice) (plan, bool) {
	p := plan{after: failed != nil}
	d := route.Decide(c, s.opts.Policy, failing)
	if d.Kind == takedown.RouteReview {
		if route.Decide(c, s.opts.Policy, nil).Kind != takedown.RouteReview {
			return p, true
		}
		p.routing, p.review, p.reason = d.Routing(), true, d.Reason
		return p, false
	}
	tmpl := firstNotice(d)
	if containsFold(failing, tmpl.To) {
		return p, true // a partner whose address bounced
	}
	p.routing, p.reason = d.Routing(), d.Reason
	if alreadyNoticed(c, tmpl) {
		p.told, p.kind = true, tmpl.Kind
		p.reason = "routing unchanged: " + tmpl.To + " already has the first notice"
		return p, false
	}
	p.notice = &tmpl
	if failed != nil {
		p.reason = fmt.Sprintf("notice %s to %s did not arrive: first notice to the next contact, %s", failed.Ref, failed.To, tmpl.To)
	}
	return p, false
}

// chainStep tells the first working contact of the escalation chain from
// level index from on that has no standing first notice; one that has it
// is told already. With nobody left, the case goes to review.
func (s *Stage) chainStep(c takedown.Case, failing []string, failed *takedown.Notice, from int) plan {
	p := plan{after: failed != nil}
	base := route.Decide(c, s.opts.Policy, nil)
	kind := base.Kind
	if c.Routing != nil && c.Routing.Kind != "" && c.Routing.Kind != takedown.RouteReview {
		kind = c.Routing.Kind
	}
	lang := base.Lang
	if lang == "" {
		lang = "en"
	}
	chain := s.chain(c)
	for _, lvl := range chain[min(from, len(chain)):] {
		for _, ct := range contactsAt(c, lvl) {
			if containsFold(failing, ct.Email) {
				continue
			}
			tmpl := takedown.Notice{Kind: string(notice.KindFirst), Level: lvl, Channel: "email", To: ct.Email, Lang: lang}
			p.routing = takedown.Routing{Kind: kind, Country: base.Country, Lang: lang, Contacts: []takedown.Contact{ct}, Channel: "email",
				Reason: fmt.Sprintf("every contact of the route is failing: the %s is told", lvl)}
			p.reason = p.routing.Reason + " (" + ct.Email + ")"
			if failed != nil {
				p.reason = fmt.Sprintf("notice %s to %s did not arrive: first notice to the next contact, the %s %s", failed.Ref, failed.To, lvl, ct.Email)
			}
			if alreadyNoticed(c, tmpl) {
				p.told, p.kind = true, tmpl.Kind
				p.reason = "the " + lvl + " " + ct.Email + " already has the first notice"
				return p
			}
			p.notice = &tmpl
			return p
		}
	}
	p.routing = takedown.Routing{Kind: takedown.RouteReview, Country: base.Country, Lang: lang}
	p.review = true
	p.reason = "every contact failed: " + strings.Join(failing, ", ")
	if len(failing) == 0 {
		p.reason = "no contact to tell: the route and its escalation chain name nobody"
	}
	return p
}

// chain is the escalation chain of the case's route kind, less the
// authority.
func (s *Stage) chain(c takedown.Case) []string {
	kind := takedown.RouteHoster
	if c.Routing != nil && c.Routing.Kind != "" && c.Routing.Kind != takedown.RouteReview {
		kind = c.Routing.Kind
	} else if c.Enrichment != nil && c.Enrichment.CDN != nil {
		kind = takedown.RouteCDN
	}
	var out []string
	for _, lvl := range s.opts.Chains[kind] {
		if lvl != string(notice.LevelAuthority) {
			out = append(out, lvl)
		}
	}
	return out
}

// contactsAt lists the case's contacts at an escalation level.
func contactsAt(c takedown.Case, level string) []takedown.Contact {
	e := c.Enrichment
	if e == nil {
		return nil
	}
	var out []takedown.Contact
	switch level {
	case string(notice.LevelUpstream):
		for _, ct := range e.Contacts {
			if ct.Role == string(notice.LevelUpstream) && ct.Email != "" {
				out = append(out, ct)
			}
		}
	case string(notice.LevelRegistrar):
		if e.Registrar != nil && e.Registrar.Abuse != nil && e.Registrar.Abuse.Email != "" {
			out = append(out, *e.Registrar.Abuse)
		}
	}
	return out
}
