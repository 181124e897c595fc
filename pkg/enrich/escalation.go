package enrich

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// escalationRoles are the contacts only escalation writes to: the levels
// above the hoster (or CDN) that EnrichForNotice leaves for later.
var escalationRoles = []string{RoleUpstream, RoleOwner, RoleRegistrar}

// Escalation is what the lookups EnrichForNotice left out found: the
// contacts above the hoster, the registrar and the problems met on the
// way. Apply merges it into the case's enrichment.
type Escalation struct {
	contacts  []takedown.Contact // in escalation order: upstream, owner, registrar
	registrar *takedown.Registrar
	problems  []string
}

// Escalation looks up the levels above the hoster of an enrichment that
// EnrichForNotice made: the parent networks, the origin ASes and the
// registrable domain of u. It asks about the addresses the enrichment
// recorded, not about what DNS says now: whether the site moved is the
// re-checks' business, and a chain must belong to the hoster that was
// noticed. The networks' answers come from the cache the first lookup
// filled. The error matches ErrIncomplete when a lookup may succeed
// later; the Escalation returned with it holds what was found.
func (e *Enricher) Escalation(ctx context.Context, u urlnorm.URL, have *takedown.Enrichment) (Escalation, error) {
	start := takedown.Enrichment{At: have.At, Host: have.Host, IPLiteral: have.IPLiteral, CNAMEs: have.CNAMEs}
	var addrs []netip.Addr
	for _, a := range have.Addresses {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			addrs = append(addrs, ip)
		}
	}
	l := e.lookupHoster(ctx, addrs)
	e.lookupAbove(ctx, l, u.Domain)
	full, err := e.build(start, l)
	esc := Escalation{registrar: full.Registrar, problems: full.Problems}
	for _, c := range full.Contacts {
		if slices.Contains(escalationRoles, c.Role) {
			esc.contacts = append(esc.contacts, c)
		}
	}
	return esc, err
}

// Apply puts the chain into enr, replacing any escalation contacts it
// had: the hoster's and CDN's contacts (which the first notice went to)
// stay first and unchanged, the levels above follow in the order
// escalation climbs them, as Enrich orders them. The problems met are
// added once each, and the enrichment is no longer pending.
func (x Escalation) Apply(enr *takedown.Enrichment) {
	keep := slices.DeleteFunc(slices.Clone(enr.Contacts), func(c takedown.Contact) bool {
		return slices.Contains(escalationRoles, c.Role)
	})
	enr.Contacts = append(keep, x.contacts...)
	if x.registrar != nil {
		enr.Registrar = x.registrar
	}
	for _, p := range x.problems {
		enr.Problems = appendOnce(enr.Problems, p)
	}
	enr.EscalationPending = false
}

// reason words the chain for the timeline.
func (x Escalation) reason() string {
	counts := map[string]int{}
	for _, c := range x.contacts {
		counts[c.Role]++
	}
	parts := []string{fmt.Sprintf("%d upstream contact(s)", counts[RoleUpstream])}
	if x.registrar != nil && x.registrar.Name != "" {
		parts = append(parts, "registrar "+x.registrar.Name)
	} else {
		parts = append(parts, "registrar unknown")
	}
	if counts[RoleOwner] > 0 {
		parts = append(parts, fmt.Sprintf("%d owner contact(s)", counts[RoleOwner]))
	}
	var gaps int
	for _, p := range x.problems {
		if strings.HasPrefix(p, "rdap") {
			gaps++
		}
	}
	if gaps > 0 {
		parts = append(parts, fmt.Sprintf("%d problem(s)", gaps))
	}
	return "escalation chain: " + strings.Join(parts, ", ")
}

// escalationSummary is the data of an escalation_chain event.
type escalationSummary struct {
	Registrar string   `json:"registrar,omitempty"`
	Upstream  []string `json:"upstream,omitempty"`
	Contacts  int      `json:"contacts"`
	Problems  []string `json:"problems,omitempty"`
}

func (x Escalation) summary() escalationSummary {
	s := escalationSummary{Contacts: len(x.contacts), Problems: x.problems}
	if x.registrar != nil {
		s.Registrar = x.registrar.Name
	}
	for _, c := range x.contacts {
		if c.Role == RoleUpstream {
			s.Upstream = append(s.Upstream, c.Email)
		}
	}
	return s
}
