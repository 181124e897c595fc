// Package scope says what one API token may see and do. Every read the
// status API makes for a request passes through that request's Scope
// (pkg/api puts it on the request's context): which cases it sees, what of
// a case, its timeline and its notices it sees, whether it sees dead
// letters, and which actions it may take. Code that answers for a request
// — lists, statistics, hosters — applies the scope from the context rather
// than a rule of its own:
//
//   - s.All(): the hotline's own roles (viewer, analyst, admin) see every
//     case whole; nothing needs filtering.
//   - otherwise s.Audiences() are the audience keys of the cases it sees
//     (takedown.Case.Audiences; the case index lists by them), s.Sees(c)
//     says the same of one case, and s.Case, s.Timeline and s.Notice
//     redact what it may not see of them.
//
// The zero Scope sees nothing and may do nothing.
package scope

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Role is what a token is for.
type Role string

// The roles. viewer, analyst and admin are the hotline's own people and
// see every case; partner and hoster are outside it and see only the
// cases told to them.
const (
	// Viewer reads cases, timelines, notices and the review queue.
	Viewer Role = "viewer"
	// Analyst reads as a viewer does, reads dead letters, and acts.
	Analyst Role = "analyst"
	// Admin is an analyst who also sees the tokens.
	Admin Role = "admin"
	// Partner is a partner hotline: it sees the cases forwarded to it and
	// may report their status (takedown.ActionPartnerStatus).
	Partner Role = "partner"
	// Hoster is a hoster's abuse desk, bound to its domains and ASNs: it
	// sees the cases noticed to it, never another party's URL or contact,
	// and may report a removal (takedown.ActionMarkRemoved).
	Hoster Role = "hoster"
)

// Roles lists every role, the hotline's own first.
var Roles = []Role{Viewer, Analyst, Admin, Partner, Hoster}

// RoleNames are the names a configuration may use: every role, and
// "reader", the old name of viewer.
var RoleNames = []string{"viewer", "reader", "analyst", "admin", "partner", "hoster"}

// ParseRole maps a configured role name to its Role; "reader" is viewer.
func ParseRole(s string) (Role, error) {
	if s == "reader" {
		return Viewer, nil
	}
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want %s)", s, strings.Join(RoleNames, ", "))
}

// Internal reports whether the role is one of the hotline's own.
func (r Role) Internal() bool { return r == Viewer || r == Analyst || r == Admin }

// PartnerHotline is the hotline a partner token is bound to, as the
// partner directory (route.partners_file) lists it.
type PartnerHotline struct {
	Country string `json:"country"`
	Name    string `json:"name"`
	// Address is where its forwards go (e-mail address, webhook URL or
	// NATS subject): forwards recorded before they carried the country
	// are found by it.
	Address string `json:"-"`
}

// Scope is what one token may see and do.
type Scope struct {
	// Token is the token's name; the actions it takes carry it as actor.
	Token string `json:"name"`
	Role  Role   `json:"role"`
	// Partner binds a partner token.
	Partner *PartnerHotline `json:"partner,omitempty"`
	// Domains and ASNs bind a hoster token: it sees a case when a notice
	// of the case was addressed to an address in one of the domains (or a
	// name below one), or when the case is hosted in one of the ASNs and
	// its hoster (or CDN) was noticed.
	Domains []string `json:"domains,omitempty"`
	ASNs    []uint   `json:"asns,omitempty"`
}

// Check reports a scope whose role and bindings do not fit together.
func (s Scope) Check() error {
	switch {
	case !slices.Contains(Roles, s.Role):
		return fmt.Errorf("unknown role %q", s.Role)
	case s.Role == Partner && (s.Partner == nil || s.Partner.Country == ""):
		return fmt.Errorf("a partner token needs its partner hotline")
	case s.Role == Hoster && len(s.Domains)+len(s.ASNs) == 0:
		return fmt.Errorf("a hoster token needs its domains or ASNs")
	case s.Role != Partner && s.Partner != nil:
		return fmt.Errorf("only a partner token is bound to a partner hotline")
	case s.Role != Hoster && len(s.Domains)+len(s.ASNs) > 0:
		return fmt.Errorf("only a hoster token is bound to domains and ASNs")
	}
	return nil
}

// All reports whether the scope sees every case whole.
func (s Scope) All() bool { return s.Role.Internal() }

// Audiences are the audience keys of the cases the scope sees
// (takedown.Case.Audiences): nil when it sees all, and empty when it sees
// none.
func (s Scope) Audiences() []string {
	if s.All() {
		return nil
	}
	keys := []string{}
	if p := s.Partner; s.Role == Partner && p != nil {
		keys = append(keys, takedown.AudiencePartner(p.Country))
		if p.Address != "" {
			keys = append(keys, takedown.AudienceForward(p.Address))
		}
	}
	if s.Role == Hoster {
		for _, d := range s.Domains {
			keys = append(keys, takedown.AudienceDomain(d))
		}
		for _, a := range s.ASNs {
			keys = append(keys, takedown.AudienceASN(a))
		}
	}
	return keys
}

// Sees reports whether the scope sees the case at all.
func (s Scope) Sees(c takedown.Case) bool {
	if s.All() {
		return true
	}
	mine := s.Audiences()
	return slices.ContainsFunc(c.Audiences(), func(k string) bool { return slices.Contains(mine, k) })
}

// SeesDeadLetters reports whether the scope reads the dead-letter stream:
// rejected reports and unmatched mail are the hotline's to correct.
func (s Scope) SeesDeadLetters() bool { return s.Role == Analyst || s.Role == Admin }

// SeesContactBook reports whether the scope reads the contacts remembered
// for hosters: the hotline's own knowledge of other parties' addresses.
func (s Scope) SeesContactBook() bool { return s.All() }

// EditsContactBook reports whether the scope may forget a remembered
// contact (those who may remember one, by adding it).
func (s Scope) EditsContactBook() bool { return s.Role == Analyst || s.Role == Admin }

// SeesTokens reports whether the scope lists the API's tokens.
func (s Scope) SeesTokens() bool { return s.Role == Admin }

// MayAct reports whether the scope may take the action (on a case it
// sees): the hotline's analysts and admins take every action, a partner
// hotline reports status, a hoster reports a removal.
func (s Scope) MayAct(action string) bool {
	switch s.Role {
	case Analyst, Admin:
		return slices.Contains(takedown.Actions, action)
	case Partner:
		return action == takedown.ActionPartnerStatus
	case Hoster:
		return action == takedown.ActionMarkRemoved
	}
	return false
}

// MayActAtAll reports whether the scope may take any action.
func (s Scope) MayActAtAll() bool {
	return slices.ContainsFunc(takedown.Actions, s.MayAct)
}

type ctxKey struct{}

// NewContext returns ctx carrying the scope.
func NewContext(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the scope ctx carries, or the zero Scope, which
// sees nothing.
func FromContext(ctx context.Context) Scope {
	s, _ := ctx.Value(ctxKey{}).(Scope)
	return s
}
