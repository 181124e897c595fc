package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// What carries a routed case on is the notice that names it: the one its
// record says is being sent, or — before the notice is sealed — the open
// batch of the recipient its routing names. The reconciler asks Underway
// whether that notice is on its way, and Resume to set it going again.

// Underway reports whether a notice that names the case is on its way:
// it is not done and its flush work is pending. A routed case whose
// notice cannot be found (a high-priority notice of its own, which no
// batch points at) counts as on its way until that notice's due time, and
// a grace, have passed: by then its notice would have been sealed, which
// records it on the case.
func (s *Stage) Underway(ctx context.Context, c takedown.Case) (bool, error) {
	ref, rec, ok, err := s.carrier(ctx, c)
	switch {
	case err != nil:
		return false, err
	case !ok:
		return c.State == takedown.StateRouted && s.now().Before(s.dueBy(c)), nil
	case rec.State.Done():
		return false, nil
	}
	return s.store.WorkPending(ctx, stageFlush, ref)
}

// dueBy is when the notice of a routed case is sealed at the latest: its
// batching window (none for high priority) moved into the send window,
// plus the time a flush may take and be handed to another replica.
func (s *Stage) dueBy(c takedown.Case) time.Time {
	if c.Routing == nil {
		return time.Time{}
	}
	high := c.Priority == takedown.PriorityHigh
	at := c.Routing.At
	if !high {
		at = at.Add(s.cfg.BatchWindow)
	}
	return s.window.next(at, high).Add(2*s.cfg.AckWait + time.Minute)
}

// Resume sets a routed case going again when nothing carries it (Underway
// is false): the flush of the notice that names it (which sends a notice
// not done, or records a done one's outcome on its cases), or, when no
// notice names it any more, routing. dedup names the repair, so that
// asking twice is one unit of work.
func (s *Stage) Resume(ctx context.Context, c takedown.Case, dedup string) error {
	ref, rec, ok, err := s.carrier(ctx, c)
	if err != nil {
		return err
	}
	if ok && (!rec.State.Done() || rec.State != takedown.NoticeDropped && containsCase(rec, c.ID)) {
		return s.store.Enqueue(ctx, stageFlush, ref, "flush-"+ref+"-"+dedup, nil)
	}
	return s.store.Enqueue(ctx, store.StageRoute, c.ID, "route-"+c.ID+"-"+dedup, nil)
}

// carrier finds the notice that carries the case: its latest first
// notice or forward still recorded as sending, else the open batch of the
// recipient its routing names, if that batch holds the case.
func (s *Stage) carrier(ctx context.Context, c takedown.Case) (string, takedown.Notice, bool, error) {
	for i := len(c.Notices) - 1; i >= 0; i-- {
		if n := c.Notices[i]; n.Outcome == "sending" {
			rec, _, err := s.rec.notices.Get(ctx, n.Ref)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return n.Ref, rec, err == nil, err
		}
	}
	if c.State != takedown.StateRouted {
		return "", takedown.Notice{}, false, nil
	}
	failing, err := s.failing(ctx, c)
	if err != nil {
		return "", takedown.Notice{}, false, err
	}
	p := s.nextStep(c, failing, nil)
	if p.notice == nil {
		return "", takedown.Notice{}, false, nil
	}
	e, err := s.rec.batches.Get(ctx, contactKey(*p.notice))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return "", takedown.Notice{}, false, nil
	case err != nil:
		return "", takedown.Notice{}, false, fmt.Errorf("get batch: %w", err)
	}
	ref := string(e.Value())
	rec, _, err := s.rec.notices.Get(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", takedown.Notice{}, false, nil
	case err != nil:
		return "", takedown.Notice{}, false, err
	case !containsCase(rec, c.ID):
		return "", takedown.Notice{}, false, nil
	}
	return ref, rec, true, nil
}

// containsCase reports whether the notice names the case and did not drop it.
func containsCase(rec takedown.Notice, id string) bool {
	for _, cid := range rec.CaseIDs() {
		if cid == id {
			return true
		}
	}
	return false
}
