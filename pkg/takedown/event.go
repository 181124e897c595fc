package takedown

import (
	"encoding/json"
	"time"
)

// EventType names what happened to a case.
type EventType string

// The event types of the audit trail.
const (
	EventReceived      EventType = "received"      // case created from a report
	EventReportJoined  EventType = "report_joined" // another report of the same URL joined the case
	EventEnriched      EventType = "enriched"      // hoster, contacts and country resolved
	EventUnresolvable  EventType = "unresolvable"  // host did not resolve
	EventNotActionable EventType = "not_actionable"
	EventRouted        EventType = "routed"  // routing decision and its reason
	EventReview        EventType = "review"  // sent to the manual review queue
	EventNoticed       EventType = "noticed" // notice accepted by the mail relay
	EventNoticeFailed  EventType = "notice_failed"
	EventForwarded     EventType = "forwarded" // sent to a partner hotline
	EventForwardFailed EventType = "forward_failed"
	EventReplied       EventType = "replied"        // the hoster answered
	EventNoticeDelayed EventType = "notice_delayed" // a delay warning (4.x.x) came back for a notice
	EventChecked       EventType = "checked"        // one probe result
	EventRemoved       EventType = "removed"        // removal confirmed
	EventReopened      EventType = "reopened"       // material came back
	EventMoved         EventType = "moved"          // hoster or country changed
	EventReminder      EventType = "reminder"
	EventEscalated     EventType = "escalated"
	EventClosed        EventType = "closed"
	EventStateChanged  EventType = "state_changed" // a manual move by a person
	// EventFreshAttempt: a new report of the URL of a case in review or
	// unresolvable asked for its enrichment and routing to be tried again.
	EventFreshAttempt EventType = "fresh_attempt"
	// EventRepaired: the reconciler found the open case without a next
	// step (the data says what was missing) and asked for it.
	EventRepaired EventType = "repaired"
	// EventAnonymised: retention replaced the URL of the closed case by a
	// keyed hash and dropped its addresses and contacts, on the case and
	// on its timeline.
	EventAnonymised EventType = "anonymised"
	// EventEscalationChain: the levels above the hoster (registrar, the
	// site's owner, parent network, origin AS) were looked up after the
	// first enrichment and added to the case's contacts for escalation.
	EventEscalationChain EventType = "escalation_chain"
)

// The events of a person's actions (POST /v1/cases/{id}/actions). Their
// Actor is the acting token's name and their Data holds the request,
// always with its "action"; a close by a person is an EventClosed with
// such data.
const (
	EventCheckRequested  EventType = "check_requested"
	EventEnrichRequested EventType = "enrichment_requested"
	EventRouteChosen     EventType = "route_chosen"
	EventContactAdded    EventType = "contact_added"
	EventRemovalReported EventType = "removal_reported" // a claim: re-checks confirm it
	EventNoticesPaused   EventType = "notices_paused"
	EventNoticesResumed  EventType = "notices_resumed"
	EventPartnerStatus   EventType = "partner_status"
)

// Event is one entry of a case's timeline: what happened, when, why and
// who (a component such as "intake" or a person's token name) did it.
type Event struct {
	// ID makes appending idempotent: the same unit of work run twice
	// produces the same id, and the events stream drops the second copy.
	ID     string          `json:"id"`
	CaseID string          `json:"case_id"`
	Type   EventType       `json:"type"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Reason string          `json:"reason,omitempty"`
	From   State           `json:"from,omitempty"`
	To     State           `json:"to,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	// Seq is the event's position in the events stream, set when read back.
	Seq uint64 `json:"seq,omitempty"`
	// Redacted is set on the copy retention wrote in place of an event of
	// an anonymised case: it names the event it replaces (anonymised.go).
	Redacted *Redaction `json:"redacted,omitempty"`
}

// Action is the action a person's event records ("" for a stage's event):
// the "action" of its data.
func (e Event) Action() string {
	if len(e.Data) == 0 || e.Data[0] != '{' {
		return ""
	}
	var d struct {
		Action string `json:"action"`
	}
	if json.Unmarshal(e.Data, &d) != nil {
		return ""
	}
	return d.Action
}

// WithData returns e with v marshalled into Data. Values are our own
// structs, so a marshal error is a programming error and drops only Data.
func (e Event) WithData(v any) Event {
	if b, err := json.Marshal(v); err == nil {
		e.Data = b
	}
	return e
}
