package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	types := make([]string, 0, len(events))
	for _, ev := range events {
		if ev.At.IsZero() {
			ev.At = s.now().UTC()
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
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("append event %s to case %s: %w", ev.Type, ev.CaseID, err)
		}
		futures = append(futures, f)
		types = append(types, string(ev.Type))
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			// A repeated append (a redelivered step) is not a new event.
			if !ack.Duplicate {
				s.metrics.events.WithLabelValues(types[i]).Inc()
			}
		case err := <-f.Err():
			return fmt.Errorf("append event: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("append event: %w", ctx.Err())
		}
	}
	return nil
}

// Timeline returns the events of a case, oldest first.
func (s *Store) Timeline(ctx context.Context, caseID string) ([]takedown.Event, error) {
	if !ValidCaseID(caseID) {
		return nil, fmt.Errorf("case %q: %w", caseID, ErrNotFound)
	}
	cons, err := s.js.OrderedConsumer(ctx, EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{EventsPrefix + caseID},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
	}
	pending := int(info.NumPending)
	events := make([]takedown.Event, 0, pending)
	for pending > 0 {
		batch, err := cons.Fetch(min(pending, 500), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			var ev takedown.Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				continue
			}
			if md, err := msg.Metadata(); err == nil {
				ev.Seq = md.Sequence.Stream
			}
			events = append(events, ev)
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read timeline of %s: %w", caseID, err)
		}
		if n == 0 {
			break
		}
		pending -= n
	}
	return events, nil
}
