package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// What the store holds for a case besides the case itself, for the
// reconciler's check that every open case has a next step
// (takedown.NextStep). Each answer comes from the stream leader.

// OpenCaseIDs returns the ids of the cases the case index holds as open,
// in received order, without reading a single case; false while the index
// loads. Closed cases — most of the bucket, in time — are never touched.
func (s *Store) OpenCaseIDs() ([]string, bool) {
	s.index.mu.RLock()
	defer s.index.mu.RUnlock()
	if !s.index.ready {
		return nil, false
	}
	var out []string
	for _, id := range s.index.ids {
		if s.index.state[id].Open() {
			out = append(out, id)
		}
	}
	return out, true
}

// PendingWork lists the stages with a unit of work for the case in the
// work queue: one request for every stage, answered by the stream leader
// from its subject index.
func (s *Store) PendingWork(ctx context.Context, caseID string) ([]string, error) {
	if !ValidCaseID(caseID) {
		return nil, fmt.Errorf("case %q: %w", caseID, ErrNotFound)
	}
	stream, err := s.workStream(ctx)
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(WorkPrefix+"*."+caseID))
	if err != nil {
		return nil, fmt.Errorf("look up work of case %s: %w", caseID, err)
	}
	var out []string
	for subj, n := range info.State.Subjects {
		if n == 0 {
			continue
		}
		if stage, _, ok := strings.Cut(strings.TrimPrefix(subj, WorkPrefix), "."); ok {
			out = append(out, stage)
		}
	}
	return out, nil
}

// WorkPending reports whether a unit of work of the stage for key (a case
// id, or a notice reference for a notice's flush) is in the work queue.
func (s *Store) WorkPending(ctx context.Context, stage, key string) (bool, error) {
	stream, err := s.workStream(ctx)
	if err != nil {
		return false, err
	}
	_, err = stream.GetLastMsgForSubject(ctx, WorkSubject(stage, key))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up %s work of %s: %w", stage, trimKey(key), err)
	}
	return true, nil
}

func (s *Store) workStream(ctx context.Context) (jetstream.Stream, error) {
	s.workMu.Lock()
	defer s.workMu.Unlock()
	if s.workHandle != nil {
		return s.workHandle, nil
	}
	stream, err := s.js.Stream(ctx, WorkStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", WorkStream, err)
	}
	s.workHandle = stream
	return stream, nil
}
