package recheck

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
)

// Kinds of takedown.NotifyRequest that re-checks ask the notify stage for.
const (
	NotifyReminder   = "reminder"   // the material is still online: tell the same level again
	NotifyEscalation = "escalation" // tell the next level up the chain
	NotifyReappeared = "reappeared" // removed material came back: notice again, saying so
)

// Levels a takedown.NotifyRequest may address besides the route kinds (hoster,
// partner, cdn) of the first notice.
const (
	LevelUpstream  = "upstream"  // the parent network or the ASN's abuse contact
	LevelRegistrar = "registrar" // the registrar of the registrable domain
	LevelAuthority = "authority" // the authority that can order removal
)

// EnrichRequest is the payload of the enrich work recheck enqueues when
// the hoster may have changed.
type EnrichRequest struct {
	// Reason is "moved" (the material answered from an address outside
	// the enrichment) or "refresh" (the enrichment is old).
	Reason string `json:"reason"`
	// RemoteIP is the address the material answered from, when moved.
	RemoteIP string    `json:"remote_ip,omitempty"`
	At       time.Time `json:"at"`
}

// Kinds of CheckRequest.
const (
	// CheckStart begins re-checking a case that was just noticed or
	// forwarded: the first check follows the first cadence offset after At.
	CheckStart = "start"
	// CheckNow probes the case at once (API, CLI, a hoster's reply).
	CheckNow = "now"
)

// CheckRequest is the payload of check work (store.StageCheck) on
// takedown.work.check.<case id>.
type CheckRequest struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// By names who asked (a token name, "reply", "cli"), for the events.
	By string `json:"by,omitempty"`
}

// Start asks re-checks to begin for a case that reached noticed or
// forwarded at noticeAt. The notify stage calls it after it recorded the
// notice on the case; it only enqueues work, so it needs no Recheck and is
// safe to repeat (the same case and time give one request).
func Start(ctx context.Context, st *store.Store, caseID string, noticeAt time.Time) error {
	return enqueueCheck(ctx, st, caseID, CheckRequest{Kind: CheckStart, At: noticeAt.UTC()})
}

// RequestCheck asks for an immediate check of a case; by names who asked.
// Requests within the same millisecond are one.
func RequestCheck(ctx context.Context, st *store.Store, caseID, by string) error {
	return enqueueCheck(ctx, st, caseID, CheckRequest{Kind: CheckNow, At: st.Now().UTC(), By: by})
}

func enqueueCheck(ctx context.Context, st *store.Store, caseID string, req CheckRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode check request: %w", err)
	}
	dedup := "check-" + req.Kind + "-" + caseID + "-" + strconv.FormatInt(req.At.UnixMilli(), 10)
	return st.Enqueue(ctx, store.StageCheck, caseID, dedup, b)
}

// dedupID names one step of a case for idempotent requests and events.
func dedupID(caseID, what string, parts ...int) string {
	s := caseID + "-" + what
	for _, p := range parts {
		s += "-" + strconv.Itoa(p)
	}
	return s
}
