package takedown

import "time"

// Delivery is what came back about a notice that was handed to the mail
// relay: a bounce (failed), a delay warning, or nothing.
type Delivery string

// The outcomes of a delivery that the rules below tell apart.
const (
	// DeliveryGone: delivery failed and the address is gone for good
	// (sisimai's hard reasons: userunknown, hostunknown, hasmoved,
	// notaccept).
	DeliveryGone Delivery = "gone"
	// DeliveryFailed: delivery failed, but the failure may pass
	// (mailboxfull, blocked, filtered, expired …), or the bounce cannot be
	// graded.
	DeliveryFailed Delivery = "failed"
	// DeliveryDelayed: the sending server is still trying.
	DeliveryDelayed Delivery = "delayed"
)

// DeliveryRule is what one outcome does. What is not here never happens:
// no outcome stops a case's re-checks or moves a case back. A bounce, real
// or forged, can only widen who is told, never narrow what is watched —
// anyone who saw a notice (the hoster first of all) can write one.
type DeliveryRule struct {
	// NextContact: the notice's cases are told by the next contact now —
	// the next working contact of the route, then up the escalation chain
	// (upstream, registrar); a case with nobody left goes to review with
	// the reason, and keeps its checks.
	NextContact bool
	// MarkFailing: the address is marked failing for every case, on every
	// replica (the contact-health record, ContactHealth), until the mark
	// expires; new cases skip it meanwhile and try it again after. Only a
	// verified bounce marks (see Verified).
	MarkFailing bool
	// Wait: recorded, and waited for; the sending server reports again
	// (a bounce) or delivers.
	Wait bool
	// Event is what the outcome records on each case of the notice.
	Event EventType
}

// DeliveryRules is the one table of what a bounce or delay does; the
// README's "Replies and bounces" copies it.
var DeliveryRules = map[Delivery]DeliveryRule{
	DeliveryGone:    {NextContact: true, MarkFailing: true, Event: EventNoticeFailed},
	DeliveryFailed:  {NextContact: true, Event: EventNoticeFailed},
	DeliveryDelayed: {Wait: true, Event: EventNoticeDelayed},
}

// Verified reports whether a bounce is evidence enough to mark an address
// failing for every case. A bounce addressed to the notice's VERP envelope
// sender, whose tag only this daemon can make, was sent by a server on the
// notice's delivery path; a bounce matched only by the Message-ID, subject
// or reference it quotes can be written by anyone who has seen the notice
// — the hoster, a ticket system it forwarded the notice to. Such a bounce
// still sends its own notice's cases on to the next contact (that only
// widens who is told), but it does not make later cases skip an address
// that may work. With VERP off there is no better evidence than the
// returned original, so it counts; a bounce marked suspicious (a VERP tag
// that does not verify) never does.
func Verified(matchedBy string, verpOn bool, suspicious string) bool {
	switch {
	case suspicious != "":
		return false
	case matchedBy == "verp":
		return true
	}
	return !verpOn
}

// ContactHealth is what every replica knows about an address that
// bounced for good: it is failing until the record expires (the bucket's
// TTL, notify.contact_health_ttl), and new cases skip it meanwhile. A
// later bounce renews it; a reply from the address (it works) drops it.
type ContactHealth struct {
	Address string    `json:"address"`
	Since   time.Time `json:"since"` // first bounce of this mark
	Last    time.Time `json:"last"`  // latest bounce
	Bounces int       `json:"bounces"`
	Reason  string    `json:"reason,omitempty"` // sisimai's reason name
	Status  string    `json:"status,omitempty"`
	Notice  string    `json:"notice,omitempty"` // the notice whose bounce marked it last
	Case    string    `json:"case,omitempty"`   // one case of that notice
}
