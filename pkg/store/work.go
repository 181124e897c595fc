package store

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Stages of the pipeline; each consumes takedown.work.<stage>.<case id>.
// The names are the domain's (takedown.NextStep reads them).
const (
	StageEnrich = takedown.WorkEnrich
	StageRoute  = takedown.WorkRoute
	StageNotify = takedown.WorkNotify
	StageCheck  = takedown.WorkCheck
)

// WorkSubject is the subject of a unit of work for a case.
func WorkSubject(stage, caseID string) string { return WorkPrefix + stage + "." + caseID }

// Enqueue asks a stage to work on a case. dedupID makes the request
// idempotent: enqueueing the same step twice (a redelivered message, two
// replicas) gives one unit of work.
func (s *Store) Enqueue(ctx context.Context, stage, caseID, dedupID string, data []byte) error {
	if _, err := s.js.PublishMsg(ctx, workMsg(caseID, Work{Stage: stage, DedupID: dedupID, Data: data})); err != nil {
		return fmt.Errorf("enqueue %s for case %s: %w", stage, caseID, err)
	}
	return nil
}

// Work is a unit of work for a case, as Enqueue takes it: the stage, the
// id that makes asking twice one unit, and what the stage needs to know.
type Work struct {
	Stage   string
	DedupID string
	Data    []byte
}

func workMsg(caseID string, w Work) *nats.Msg {
	msg := nats.NewMsg(WorkSubject(w.Stage, caseID))
	msg.Data = w.Data
	if w.DedupID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, w.DedupID)
	}
	return msg
}
