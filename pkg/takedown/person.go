package takedown

import (
	"slices"
	"strings"
	"time"
)

// What a person (an analyst, a partner hotline, a hoster's abuse desk)
// decided about a case through the API's actions. The stages read these
// from the case, so an action never calls a stage: it changes the case and
// leaves work for the stage in the work queue.

// SourceManual is the Source kind of a contact a person added to a case;
// Source.Handle is the token that added it.
const SourceManual = "manual"

// Pause holds a case's notices: while it lasts the notify stage sends no
// first notice, forward, reminder or escalation for the case (what comes
// due waits and goes out when the pause ends). Re-checks go on, so a
// removal is still confirmed. A pause always ends: Until is required.
type Pause struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// NoticesPaused reports whether the case's notices are held at t.
func (c *Case) NoticesPaused(t time.Time) bool {
	return c.Pause != nil && t.Before(c.Pause.Until)
}

// RouteChoice is a person's choice of whom the case goes to, which routing
// follows instead of its policy: a contact (noticed as the hoster) or the
// partner hotline of a country. It holds while the case is hosted where it
// was when the choice was made (AppliesTo): once the material moves, the
// policy decides again, since the person chose for the old hoster.
type RouteChoice struct {
	Contact *Contact `json:"contact,omitempty"`
	// Partner is the country code of the partner hotline.
	Partner string    `json:"partner,omitempty"`
	Reason  string    `json:"reason"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	// Networks and Addresses are the RDAP network handles and addresses
	// of the enrichment the choice was made on (none: the case had none).
	Networks  []string `json:"networks,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// NewRouteChoice records the hosting of e (nil: none known) in the choice.
func NewRouteChoice(ch RouteChoice, e *Enrichment) RouteChoice {
	if e != nil {
		for _, n := range e.Networks {
			ch.Networks = append(ch.Networks, n.Handle)
		}
		for _, a := range e.Addresses {
			ch.Addresses = append(ch.Addresses, a.IP)
		}
	}
	return ch
}

// AppliesTo reports whether the choice still holds for the enrichment e:
// the choice was made without hosting facts, or e shares a network or an
// address with the hosting it was made on.
func (r *RouteChoice) AppliesTo(e *Enrichment) bool {
	if r == nil {
		return false
	}
	if len(r.Networks) == 0 && len(r.Addresses) == 0 || e == nil {
		return true
	}
	for _, n := range e.Networks {
		if slices.Contains(r.Networks, n.Handle) {
			return true
		}
	}
	for _, a := range e.Addresses {
		if slices.Contains(r.Addresses, a.IP) {
			return true
		}
	}
	return false
}

// AddContact puts a person's contact in front of the ones added before
// (the latest knowledge first); the same address again replaces its entry.
func (c *Case) AddContact(ct Contact) {
	c.AddedContacts = slices.DeleteFunc(c.AddedContacts, func(x Contact) bool { return strings.EqualFold(x.Email, ct.Email) })
	c.AddedContacts = append([]Contact{ct}, c.AddedContacts...)
}

// Checkable reports whether a re-check of the case may run: it is watched
// (noticed or forwarded at some point, and open), or its first notice is
// queued.
func (c *Case) Checkable() bool {
	return c.Watched() || c.State == StateRouted
}

// The actions a person can take on a case (POST /v1/cases/{id}/actions).
// Package actions carries them out; package scope says who may take which.
const (
	ActionCheck         = "check"            // re-check now
	ActionRetryEnrich   = "retry_enrichment" // enrich (and route) again
	ActionRoute         = "route"            // to a given contact or partner hotline
	ActionAddContact    = "add_contact"      // for this case, or remembered for its hoster
	ActionMarkRemoved   = "mark_removed"     // a claim, confirmed by re-checks
	ActionPause         = "pause"            // hold the case's notices until a time
	ActionResume        = "resume"           // release them now
	ActionClose         = "close"            // as not actionable or as a duplicate
	ActionPartnerStatus = "partner_status"   // what the partner hotline reports
)

// Actions lists every action.
var Actions = []string{
	ActionCheck, ActionRetryEnrich, ActionRoute, ActionAddContact, ActionMarkRemoved,
	ActionPause, ActionResume, ActionClose, ActionPartnerStatus,
}
