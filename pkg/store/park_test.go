package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
)

// handling records, per unit of work, how its handler saw it.
type handling struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (h *handling) add(id, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string][]string{}
	}
	h.seen[id] = append(h.seen[id], what)
}

func (h *handling) of(id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen[id]...)
}

// One worker, and a unit that waits on something slow: parked, it lets
// the units behind it pass; it keeps its message through three ack waits
// (its progress is signalled) and comes back once, flagged, when what it
// waited for is there. Past MaxParked, and on its way back, a unit is
// not parked.
func TestParkLetsOtherWorkPass(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	const ackWait = time.Second
	c, err := st.EnsureWorkConsumer(t.Context(), WorkConsumerConfig{Stage: "park", AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 100})
	if err != nil {
		t.Fatal(err)
	}
	const slow, slowToo, quick, overLimit = "0000000000000D01", "0000000000000D02", "0000000000000D03", "0000000000000D04"
	gate := make(chan struct{})
	var h handling
	consumeInBackground(t, st, ConsumeOptions{Name: "park", Workers: 1, MaxParked: 2, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		id := CaseOfWork(msg.Subject())
		md, _ := msg.Metadata()
		switch {
		case id == quick:
			h.add(id, "done")
		case Unparked(msg):
			if Park(msg, gate) {
				h.add(id, "parked twice")
				return
			}
			if md.NumDelivered != 1 {
				h.add(id, "redelivered")
			}
			h.add(id, "back")
		case Park(msg, gate):
			h.add(id, "parked")
			return
		default:
			h.add(id, "not parked")
		}
		_ = msg.Ack()
	}}, c)

	enqueue(t, st, "park", slow, quick)
	waitFor(t, "the quick unit handled while the slow one waits", func() bool { return len(h.of(quick)) == 1 })
	parkedAt := time.Now()
	enqueue(t, st, "park", slowToo, overLimit)
	waitFor(t, "the unit past MaxParked handled by its worker", func() bool { return len(h.of(overLimit)) == 1 })
	if got := h.of(overLimit); got[0] != "not parked" {
		t.Errorf("unit past MaxParked: %v, want not parked", got)
	}
	// What it waits for arrives after three ack waits: the message stays
	// this worker's all along.
	time.Sleep(3*ackWait - time.Since(parkedAt))
	close(gate)
	for _, id := range []string{slow, slowToo} {
		waitFor(t, "unit "+id+" back from its park", func() bool { return len(h.of(id)) == 2 })
		if got := h.of(id); got[0] != "parked" || got[1] != "back" {
			t.Errorf("unit %s: %v, want parked, back (delivered once)", id, got)
		}
	}
}

// A stop hands a parked message back at once: a second Consume gets it
// long before the ack wait would bring it.
func TestParkedWorkGoesBackAtAStop(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	open := func() *Store { return openOn1(t, ns.JS) }
	cfg := WorkConsumerConfig{Stage: "parkstop", AckWait: time.Hour, MaxDeliver: -1, MaxAckPending: 100}
	first := open()
	c, err := first.EnsureWorkConsumer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	parked := make(chan struct{})
	stop, done := consumeInBackground(t, first, ConsumeOptions{Name: "parkstop", Workers: 1, MaxParked: 1, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		if Park(msg, make(chan struct{})) { // never ready
			close(parked)
		}
	}}, c)
	const id = "0000000000000D11"
	enqueue(t, first, "parkstop", id)
	<-parked
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Consume at a stop: %v", err)
	}

	second := open()
	c2, err := second.EnsureWorkConsumer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan uint64, 1)
	consumeInBackground(t, second, ConsumeOptions{Name: "parkstop", Workers: 1, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		md, _ := msg.Metadata()
		_ = msg.Ack()
		got <- md.NumDelivered
	}}, c2)
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("delivery %d, want 2", n)
		}
	case <-time.After(waitBound):
		t.Fatal("the parked message was not handed back at the stop")
	}
}
