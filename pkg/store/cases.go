package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// ErrNotFound is returned when a case, report or URL is unknown.
var ErrNotFound = errors.New("not found")

// GetCase returns the case and its revision, read from the stream leader
// (see reads.go): what it returns is current enough to decide on.
func (s *Store) GetCase(ctx context.Context, id string) (takedown.Case, uint64, error) {
	if !ValidCaseID(id) {
		return takedown.Case{}, 0, fmt.Errorf("case %q: %w", id, ErrNotFound)
	}
	rec, rev, err := s.caseRecords().Get(ctx, id)
	return rec.Case, rev, err
}

// CreateCase stores a new case with the events that record its opening,
// which reach its trail however the call ends once the case is written
// (outbox.go). It returns jetstream.ErrKeyExists when the id is taken (a
// redelivered message already created it).
func (s *Store) CreateCase(ctx context.Context, c takedown.Case, events ...takedown.Event) (uint64, error) {
	rec := caseRecord{Case: c, Outbox: pendingOf(c.ID, events, s.now().UTC())}
	rev, err := s.caseRecords().Create(ctx, c.ID, rec)
	if err != nil {
		return 0, err
	}
	if err := s.fault("committed"); err != nil {
		return rev, err
	}
	return s.settle(ctx, rec, rev)
}

// NewCase is a case to open (OpenCase) with what comes with its opening.
type NewCase struct {
	Case takedown.Case
	// Events record the opening; each needs its id, which makes a repeat
	// of the append one event.
	Events []takedown.Event
	// Work is what the stages are asked to do for the new case.
	Work []Work
}

// OpenCase opens a case for a caller that repeats the whole call until it
// succeeds (intake, whose report message is redelivered until it is
// acked), in three rounds to the server: the opening events go to the
// trail, then the case is written, then its work is enqueued (all of it
// at once). Written in that order the case needs no outbox (outbox.go),
// so its record is written once instead of twice (the second write would
// only drop the appended events again): a reader never sees the case
// without the events that opened it, and a stop between the rounds leaves
// what the repeat makes good — events of a case not written yet, or a case
// without its work.
//
// Two callers may open the same id at once (intake opens a case under the
// id of the message that claimed its URL): they must pass the same events,
// as the trail keeps the first append of an id. It returns
// jetstream.ErrKeyExists when the id is taken, and the record's revision.
func (s *Store) OpenCase(ctx context.Context, n NewCase) (uint64, error) {
	id := n.Case.ID
	for _, ev := range n.Events {
		if ev.ID == "" || ev.CaseID != id {
			return 0, fmt.Errorf("open case %s: event %s without its id or case id", id, ev.Type)
		}
	}
	if err := s.AppendEvents(ctx, n.Events...); err != nil {
		return 0, err
	}
	rev, err := s.caseRecords().Create(ctx, id, caseRecord{Case: n.Case})
	if err != nil || len(n.Work) == 0 {
		return rev, err
	}
	f := s.newFlight()
	for _, w := range n.Work {
		f.publish(workMsg(id, w), "enqueue "+w.Stage+" for case "+id)
	}
	f.wait(ctx)
	return rev, f.firstErr()
}

// caseRecords is the cases bucket as records.
func (s *Store) caseRecords() *Bucket[caseRecord] {
	return &Bucket[caseRecord]{kv: s.cases, what: "case", s: s}
}

// UpdateFunc changes a case in place and returns the events that record
// the change. It may be called more than once (after a lost compare-and-
// set), so it must not have side effects outside the case.
type UpdateFunc func(c *takedown.Case) ([]takedown.Event, error)

// Update reads the case, applies fn and writes it back by compare-and-set
// (Bucket.Update), refusing a move the state table does not allow. fn's
// events are written with the change, into the record's outbox, and from
// there appended to the case's trail (outbox.go): once the change is
// committed they reach the trail however this call ends. When fn returns
// ErrNoChange nothing is written and the events are appended as they are
// (their ids make a repeat harmless): an event with no change of its own,
// or one a caller repeats to be sure.
func (s *Store) Update(ctx context.Context, id string, fn UpdateFunc) (takedown.Case, error) {
	if !ValidCaseID(id) {
		return takedown.Case{}, fmt.Errorf("case %q: %w", id, ErrNotFound)
	}
	var events []takedown.Event
	e, err := s.caseRecords().Update(ctx, id, func(r *caseRecord) error {
		before := r.State
		var err error
		events, err = fn(&r.Case)
		if err != nil {
			return err
		}
		if r.State != before && !before.CanMoveTo(r.State) {
			return &takedown.TransitionError{From: before, To: r.State}
		}
		now := s.now().UTC()
		r.UpdatedAt = now
		r.Outbox = append(r.Outbox, pendingOf(id, events, now)...)
		return nil
	})
	if err != nil {
		return e.Value.Case, err
	}
	if !e.Changed {
		if err := s.AppendEvents(ctx, events...); err != nil {
			return e.Value.Case, err
		}
		// Events a writer that stopped left behind go out with these.
	} else if err := s.fault("committed"); err != nil {
		return e.Value.Case, err
	}
	_, err = s.settle(ctx, e.Value, e.Revision)
	return e.Value.Case, err
}

// settle appends a committed record's pending events and drops them from
// it. The change stands whatever happens here, and its events are safe in
// the record: a failure is logged and left to the next change or the
// sweep, so that the caller goes on from the change it made instead of
// retrying one that is done.
// It returns the revision the record is at afterwards.
func (s *Store) settle(ctx context.Context, rec caseRecord, rev uint64) (uint64, error) {
	next, err := s.flushOutbox(ctx, rec, rev)
	if err != nil && !errors.Is(err, errFault) {
		s.log.Warn("append events of a committed change, the outbox sweep will", "case_id", rec.ID, "events", len(rec.Outbox), "err", err)
		return next, nil
	}
	return next, err
}

// ListFilter selects cases for List.
type ListFilter struct {
	State takedown.State
	Since time.Time // received at or after
	Until time.Time // received before
	// Audiences, when not nil, keeps the cases that carry one of these
	// audience keys (takedown.Case.Audiences): the cases a partner's or a
	// hoster's token sees (scope.Scope.Audiences). Empty keeps none.
	Audiences []string
	// After is the cursor: the last id of the previous page.
	After string
	Limit int
}

// List returns cases in id (= received time) order that match f, and the
// cursor of the next page ("" at the end). A page read from the bucket's
// keys (caseindex.go: closed cases) may come short, with a cursor, when
// it had to read many cases that did not match: one request's work stays
// bounded, and the next page goes on from there.
func (s *Store) List(ctx context.Context, f ListFilter) ([]takedown.Case, string, error) {
	lo, hi := "", ""
	if !f.Since.IsZero() {
		lo = IDPrefixFor(f.Since)
	}
	if !f.Until.IsZero() {
		hi = IDPrefixFor(f.Until)
	}
	after := f.After
	var out []takedown.Case
	misses := 0
	for {
		if f.Audiences != nil && len(f.Audiences) == 0 {
			return nil, "", nil
		}
		ids, more, err := s.candidates(ctx, after, lo, hi, f.State, f.Audiences, f.Limit-len(out)+1)
		if err != nil {
			return nil, "", err
		}
		for len(ids) > 0 {
			if len(out) == f.Limit {
				return out, out[len(out)-1].ID, nil
			}
			if misses >= maxListMisses(f.Limit) {
				// A short page: the cursor goes on from the last case read.
				return out, after, nil
			}
			// Read as many as the page still needs (a miss reads one
			// more), at most listReads at a time.
			chunk := ids[:min(len(ids), f.Limit-len(out), maxListMisses(f.Limit)-misses, listReads)]
			ids = ids[len(chunk):]
			cases, err := s.getCases(ctx, chunk)
			if err != nil {
				return nil, "", err
			}
			after = chunk[len(chunk)-1]
			for _, c := range cases {
				// The index may lag: the case itself has the last word.
				if c.ID == "" {
					continue // gone since the index listed it
				}
				if f.State != "" && c.State != f.State || !hasAudience(c, f.Audiences) {
					misses++
					continue
				}
				out = append(out, c)
			}
		}
		if !more {
			return out, "", nil
		}
	}
}

// listReads is how many cases a page reads at once. One after the other,
// a page of 1,000 is 1,000 round trips, each waiting its turn on a daemon
// busy with a burst or its re-checks; at once, they share the waits.
const listReads = 32

// getCases reads the cases of ids, in their order, listReads at a time; a
// case that is gone is left as the zero Case.
func (s *Store) getCases(ctx context.Context, ids []string) ([]takedown.Case, error) {
	out := make([]takedown.Case, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(listReads)
	for i, id := range ids {
		g.Go(func() error {
			c, _, err := s.GetCase(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			out[i] = c
			return err
		})
	}
	return out, g.Wait()
}

// hasAudience reports whether the case carries one of the keys (any case
// when keys is nil).
func hasAudience(c takedown.Case, keys []string) bool {
	return keys == nil || slices.ContainsFunc(c.Audiences(), func(k string) bool { return slices.Contains(keys, k) })
}

// trimKey keeps ids readable in errors without echoing arbitrary input.
func trimKey(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
