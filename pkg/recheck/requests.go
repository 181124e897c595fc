package recheck

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
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

// Kinds of check work (takedown.CheckRequest), as re-checks name them.
const (
	CheckStart  = takedown.CheckStart
	CheckNow    = takedown.CheckNow
	CheckResume = takedown.CheckResume
)

// Start asks re-checks to begin for a case that reached noticed or
// forwarded at noticeAt. The notify stage calls it after it recorded the
// notice on the case; it only enqueues work, so it needs no Recheck and is
// safe to repeat (the same case and time give one request).
func Start(ctx context.Context, st *store.Store, caseID string, noticeAt time.Time) error {
	return enqueueCheck(ctx, st, caseID, takedown.CheckRequest{Kind: CheckStart, At: noticeAt.UTC()})
}

// RequestCheck asks for an immediate check of a case; by names who asked.
// Requests within the same millisecond are one.
func RequestCheck(ctx context.Context, st *store.Store, caseID, by string) error {
	return enqueueCheck(ctx, st, caseID, takedown.CheckRequest{Kind: CheckNow, At: st.Now().UTC(), By: by})
}

func enqueueCheck(ctx context.Context, st *store.Store, caseID string, req takedown.CheckRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode check request: %w", err)
	}
	return st.Enqueue(ctx, store.StageCheck, caseID, req.DedupID(caseID), b)
}

// dedupID names one step of a case for idempotent requests and events.
func dedupID(caseID, what string, parts ...int) string {
	s := caseID + "-" + what
	for _, p := range parts {
		s += "-" + strconv.Itoa(p)
	}
	return s
}
