package takedown

import (
	"strconv"
	"time"
)

// The bodies of units of work one stage asks of another. Stages never
// import each other: they meet in the work queue and in these types, so a
// request is written by its sender and read by its stage in one shape.
// (NotifyRequest, the body of notify work, is beside the notices.)

// Reasons of an EnrichRequest. Each asks to look again at a case that
// may have moved on; enrichment without a request (intake's) enriches
// only a case that is received or unresolvable.
const (
	EnrichMoved   = "moved"        // the material answered from an address outside the enrichment
	EnrichRefresh = "refresh"      // the enrichment is older than recheck.refresh_hoster
	EnrichReport  = "report"       // a new report of the URL asks for a fresh attempt
	EnrichRetry   = "unresolvable" // the slow retry of an unresolvable host came due
	EnrichRepair  = "repair"       // the reconciler found the case without a next step
	EnrichAction  = "action"       // a person asked for it (the retry_enrichment action)
)

// EnrichRequest is the body of enrich work that asks to enrich a case
// again, in whatever open state it is.
type EnrichRequest struct {
	Reason string `json:"reason"`
	// RemoteIP is the address the material answered from, when moved.
	RemoteIP string    `json:"remote_ip,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// Kinds of CheckRequest.
const (
	// CheckStart begins re-checking a case that was just noticed or
	// forwarded: the first check follows the first cadence offset after At.
	CheckStart = "start"
	// CheckNow probes the case at once (API, CLI, a hoster's reply).
	CheckNow = "now"
	// CheckResume makes sure the case's plan is pending, whatever it is:
	// the next re-check of a watched case, the slow retry of an
	// unresolvable one (enrichment asks for it after its last quick retry;
	// the reconciler asks for it when a schedule is missing).
	CheckResume = "resume"
)

// CheckRequest is the body of check work (takedown.work.check.<case id>).
type CheckRequest struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// By names who asked (a token name, "reply", "reconcile"), for the
	// events.
	By string `json:"by,omitempty"`
}

// DedupID is the work queue's id of the request for a case: requests of
// one kind within the same millisecond are one unit of work.
func (r CheckRequest) DedupID(caseID string) string {
	return "check-" + r.Kind + "-" + caseID + "-" + strconv.FormatInt(r.At.UnixMilli(), 10)
}

// RouteRequest is the optional body of route work. Without one (or with
// an empty Failed) a case is routed while it is enriched or routed. With
// Failed, one of the case's notices did not arrive (a bounce, a relay that
// refused for good): the case, in whatever open state, is told by the next
// contact (DeliveryRules) and keeps its state and its checks.
type RouteRequest struct {
	// Failed is the reference of the notice that failed.
	Failed string `json:"failed,omitempty"`
}
