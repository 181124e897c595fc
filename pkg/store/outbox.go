package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// The event outbox: a change committed to a case always gets its events.
//
// A case and its trail live in two places (the cases bucket, the events
// stream), and no write covers both. Publishing the events after the
// compare-and-set loses them to a crash or a failed publish in between;
// and the unit of work that retries then finds the change made and has
// nothing left to say. So the events of a change are written into the
// case record itself, in the same compare-and-set (caseRecord.Outbox),
// then appended to the trail under their ids, then dropped from the record
// by a compare-and-set on the revision just written. If anything stops in
// between, they stay in the record: the next change of the case appends
// them first, and a sweep on every replica (RunOutbox) does for cases
// that no longer change.
//
// The events stream drops a second copy of an id only within its
// duplicate window (EventsDuplicateWindow). An event pending for longer
// than most of that window (the process died, or the stream was down, for
// over an hour) may be on the trail already, its drop from the record
// being what was lost: it is appended only when the trail, read from the
// stream leader, does not hold its id.

// EventsDuplicateWindow is how long the events stream remembers an
// event's id: appending the same event again within it stores it once.
const EventsDuplicateWindow = 2 * time.Hour

// outboxTrustDedup is how long after its change an event is appended on
// the strength of the stream's deduplication alone; older ones are looked
// up on the trail first. The margin covers clock skew between replicas and
// the time a repair takes.
const outboxTrustDedup = EventsDuplicateWindow - 30*time.Minute

// Defaults of the sweep: how often it runs, and how long an event may be
// pending before the sweep takes it for abandoned (its writer normally
// appends it within milliseconds).
const (
	defaultOutboxSweep = time.Minute
	outboxGrace        = 30 * time.Second
)

// caseRecord is a case as the cases bucket holds it. The case's fields are
// at the top level of the JSON, as they always were, so every reader that
// decodes a takedown.Case reads it; only the store sees the outbox.
type caseRecord struct {
	takedown.Case
	// Outbox holds the events of committed changes that are not yet
	// confirmed on the trail.
	Outbox []pendingEvent `json:"outbox,omitempty"`
}

// pendingEvent is an event of a committed change, with when the change
// was committed (by the store's clock).
type pendingEvent struct {
	Event takedown.Event `json:"event"`
	Since time.Time      `json:"since"`
}

// pendingOf readies a change's events for the outbox: each gets an id
// (its copy on the trail is deduplicated by it) and a time, fixed now so
// that a repeat appends the same event.
func pendingOf(caseID string, events []takedown.Event, now time.Time) []pendingEvent {
	out := make([]pendingEvent, len(events))
	for i, ev := range events {
		if ev.ID == "" {
			ev.ID = "ev-" + caseID + "-" + rand.Text()
		}
		if ev.CaseID == "" {
			ev.CaseID = caseID
		}
		if ev.At.IsZero() {
			ev.At = now
		}
		out[i] = pendingEvent{Event: ev, Since: now}
	}
	return out
}

// flushOutbox appends the record's pending events to the trail and drops
// them from the record written at rev. It returns the revision the record
// is at afterwards. A conflict on the drop means a later write carries the
// events, and that writer appends and drops them.
func (s *Store) flushOutbox(ctx context.Context, rec caseRecord, rev uint64) (uint64, error) {
	if len(rec.Outbox) == 0 {
		return rev, nil
	}
	if err := s.appendPending(ctx, rec.ID, rec.Outbox); err != nil {
		return rev, err
	}
	if err := s.fault("appended"); err != nil {
		return rev, err
	}
	rec.Outbox = nil
	next, err := s.caseRecords().put(ctx, rec.ID, rec, rev)
	if IsConflict(err) {
		return rev, nil
	}
	return next, err
}

// appendPending appends pending events to the trail: recent ones by id
// alone, older ones only when the trail lacks them.
func (s *Store) appendPending(ctx context.Context, caseID string, pending []pendingEvent) error {
	now := s.now()
	var onTrail map[string]bool
	events := make([]takedown.Event, 0, len(pending))
	for _, p := range pending {
		if now.Sub(p.Since) > outboxTrustDedup {
			if onTrail == nil {
				var err error
				if onTrail, err = s.trailIDs(ctx, caseID); err != nil {
					return err
				}
			}
			if onTrail[p.Event.ID] {
				continue
			}
		}
		events = append(events, p.Event)
	}
	return s.AppendEvents(ctx, events...)
}

// trailIDs returns the ids of the events on a case's trail. It decides
// whether an event is appended; the trail is read so that every event the
// stream leader holds when it asks is in it, also when a replica that has
// not applied the last append serves the batch (readSubject).
func (s *Store) trailIDs(ctx context.Context, caseID string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout())
	defer cancel()
	events, err := s.trail(ctx, caseID)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(events))
	for _, ev := range events {
		if ev.ID != "" {
			ids[ev.ID] = true
		}
	}
	return ids, nil
}

// pendingCases is, per case with pending events, when the oldest became
// pending, as the case index's watch sees the records.
type pendingCases struct {
	mu    sync.Mutex
	since map[string]time.Time
}

func (p *pendingCases) track(id string, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if since.IsZero() {
		delete(p.since, id)
		return
	}
	if p.since == nil {
		p.since = map[string]time.Time{}
	}
	p.since[id] = since
}

func (p *pendingCases) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.since)
}

// older lists the cases whose events have been pending since before t.
func (p *pendingCases) older(t time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id, since := range p.since {
		if since.Before(t) {
			ids = append(ids, id)
		}
	}
	return ids
}

// RunOutbox is the sweep of the event outbox, on every replica until ctx
// ends: every Options.OutboxSweep it appends and drops the events of
// cases whose writer stopped between the change and its events (the
// case index finds them). It needs RunCaseIndex running.
func (s *Store) RunOutbox(ctx context.Context) error {
	t := time.NewTicker(s.opts.OutboxSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, id := range s.pending.older(s.now().Add(-outboxGrace)) {
			n, err := s.repairOutbox(ctx, id)
			if err != nil {
				s.log.Warn("repair event outbox, will retry", "case_id", id, "err", err)
				continue
			}
			if n > 0 {
				s.log.Info("events of a committed change appended by the outbox sweep", "case_id", id, "events", n)
			}
		}
	}
}

// repairOutbox appends and drops what a case's outbox holds and returns
// how many events that was.
func (s *Store) repairOutbox(ctx context.Context, id string) (int, error) {
	rec, rev, err := s.caseRecords().Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.pending.track(id, time.Time{})
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	_, err = s.flushOutbox(ctx, rec, rev)
	return len(rec.Outbox), err
}

// callTimeout bounds one call to the server that the store waits on.
func (s *Store) callTimeout() time.Duration {
	if t := s.opts.Retry.CallTimeout; t > 0 {
		return t
	}
	return 10 * time.Second
}

// errFault marks the error of an injected fault, which stops a change
// where a crash would, rather than being logged and gone past.
var errFault = errors.New("injected fault")

// fault lets a test stop a change at a named point, as a crash would:
// "committed" (the record written, nothing appended) and "appended" (the
// events on the trail, still in the record).
func (s *Store) fault(point string) error {
	if s.crashAt == nil {
		return nil
	}
	if err := s.crashAt(point); err != nil {
		return fmt.Errorf("%w at %s: %w", errFault, point, err)
	}
	return nil
}
