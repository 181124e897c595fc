package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// AppendEvents adds events to their cases' trails. Each event's ID is its
// Nats-Msg-Id, so appending the same event twice within the duplicate
// window stores it once.
func (s *Store) AppendEvents(ctx context.Context, events ...takedown.Event) error {
	if len(events) == 0 {
		return nil
	}
	f := s.newFlight()
	if err := f.events(events); err != nil {
		return err
	}
	f.wait(ctx)
	return f.countEvents()
}

// events adds the appends of events to the flight, in order, as
// AppendEvents makes them.
func (f *flight) events(events []takedown.Event) error {
	for _, ev := range events {
		if ev.At.IsZero() {
			ev.At = f.s.now().UTC()
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		msg := nats.NewMsg(EventsPrefix + ev.CaseID)
		msg.Data = b
		if ev.ID != "" {
			msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
		}
		i := f.publish(msg, "append event "+string(ev.Type)+" to case "+ev.CaseID)
		f.msgs[i].event = string(ev.Type)
	}
	return nil
}

// countEvents counts the new events among the appends of a flight that
// was waited for and returns the first error.
func (f *flight) countEvents() error {
	for _, m := range f.msgs {
		// A repeated append (a redelivered step) is not a new event.
		if m.err == nil && m.event != "" && !m.ack.Duplicate {
			f.s.metrics.events.WithLabelValues(m.event).Inc()
		}
	}
	return f.firstErr()
}

// Timeline returns the events of a case, oldest first. It reads them by
// batched direct get, so a read leaves no consumer behind: the status API
// may read timelines as often as it is asked to. The events come from
// whichever replica of the stream answers, so on a cluster the newest
// event of a case may be missing for a moment; the timeline is shown,
// never decided on.
//
// Events of a change that is committed but not yet on the trail (the
// case record's outbox, outbox.go) are added at the end, with Seq 0: the
// record is read before the trail, so every event of the case as read is
// in one or the other, and a reader never sees a state without the event
// that led to it.
func (s *Store) Timeline(ctx context.Context, caseID string) ([]takedown.Event, error) {
	if !ValidCaseID(caseID) {
		return nil, fmt.Errorf("case %q: %w", caseID, ErrNotFound)
	}
	rec, _, err := s.caseRecords().Get(ctx, caseID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
	}
	events, err := s.trail(ctx, caseID)
	if err != nil {
		return nil, err
	}
	onTrail := make(map[string]bool, len(events))
	for _, ev := range events {
		onTrail[ev.ID] = true
	}
	for _, p := range rec.Outbox {
		if !onTrail[p.Event.ID] {
			events = append(events, p.Event)
		}
	}
	return events, nil
}

// trail is what the events stream holds for a case, oldest first.
func (s *Store) trail(ctx context.Context, caseID string) ([]takedown.Event, error) {
	msgs, err := s.readSubject(ctx, EventsStream, EventsPrefix+caseID)
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
	}
	events := make([]takedown.Event, 0, len(msgs))
	for _, msg := range msgs {
		var ev takedown.Event
		if err := json.Unmarshal(msg.Data, &ev); err != nil {
			// An event this version cannot read is left out, not fatal:
			// the rest of the trail is still worth showing.
			continue
		}
		ev.Seq = msgSeq(msg)
		events = append(events, ev)
	}
	return events, nil
}
