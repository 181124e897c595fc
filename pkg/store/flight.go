package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// flight is a set of publishes that do not depend on each other, sent at
// once and waited for together: one round trip to the server for all of
// them instead of one each. A step that appends events and enqueues work
// spends most of its time waiting on the server; what may go together
// goes in one flight.
type flight struct {
	s    *Store
	msgs []sent
}

// sent is one publish of a flight and, once waited for, its outcome.
type sent struct {
	msg    *nats.Msg
	what   string
	event  string // the event type, for an append (flight.events)
	future jetstream.PubAckFuture
	ack    *jetstream.PubAck
	err    error
}

func (s *Store) newFlight() *flight { return &flight{s: s} }

// publish adds msg to the flight and returns its index in msgs; wait
// sends it. what names it in errors ("append event received").
func (f *flight) publish(msg *nats.Msg, what string) int {
	f.msgs = append(f.msgs, sent{msg: msg, what: what})
	return len(f.msgs) - 1
}

// wait sends every publish of the flight and waits for them, within one
// call timeout for all of them (an append nobody acknowledges, the stream
// gone or without quorum, must not hold the caller for ever). A flight of
// one, the most common, is one request (Store.publish), which costs less
// than nats.go's asynchronous publish.
func (f *flight) wait(ctx context.Context) {
	if len(f.msgs) == 1 {
		m := &f.msgs[0]
		if m.ack, m.err = f.s.publish(ctx, m.msg); m.err != nil {
			m.err = fmt.Errorf("%s: %w", m.what, m.err)
		}
		return
	}
	for i := range f.msgs {
		m := &f.msgs[i]
		if m.future, m.err = f.s.js.PublishMsgAsync(m.msg); m.err != nil {
			m.err = fmt.Errorf("%s: %w", m.what, m.err)
		}
	}
	timeout := time.NewTimer(f.s.callTimeout())
	defer timeout.Stop()
	for i := range f.msgs {
		m := &f.msgs[i]
		if m.err != nil {
			continue
		}
		select {
		case m.ack = <-m.future.Ok():
		case err := <-m.future.Err():
			m.err = fmt.Errorf("%s: %w", m.what, err)
		case <-ctx.Done():
			m.err = fmt.Errorf("%s: %w", m.what, ctx.Err())
		case <-timeout.C:
			// Every publish still unanswered has timed out.
			for j := i; j < len(f.msgs); j++ {
				if f.msgs[j].err == nil && f.msgs[j].ack == nil {
					f.msgs[j].err = fmt.Errorf("%s: %w", f.msgs[j].what, jetstream.ErrAsyncPublishTimeout)
				}
			}
			return
		}
	}
}

// firstErr is the first error among the flight's publishes.
func (f *flight) firstErr() error {
	for _, m := range f.msgs {
		if m.err != nil {
			return m.err
		}
	}
	return nil
}
