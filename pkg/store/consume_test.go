package store

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
// waitBound bounds a test's wait for a condition. It is not a speed
// claim (the tests go on as soon as the condition holds): it is there so
// that a test that would wait forever fails, and generous because CI runs
// on a busy 2-core machine beside other test suites.
const waitBound = 2 * time.Minute

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// consumeInBackground runs Consume until the test ends (or stop is
// called) and returns its result on the channel.
func consumeInBackground(t *testing.T, st *Store, opts ConsumeOptions, c *Consumer) (stop func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, finished := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(finished)
		ch <- st.Consume(ctx, opts, c)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(waitBound):
			t.Error("Consume did not return within 30s of its stop")
		}
	})
	return cancel, ch
}

func enqueue(t *testing.T, st *Store, stage string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := st.Enqueue(t.Context(), stage, id, stage+"-"+id, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A handler that runs for three ack waits keeps its message: Consume
// signals progress, so JetStream does not hand it to a second worker.
func TestConsumeSignalsProgressWhileAHandlerRuns(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	const ackWait = time.Second
	c, err := st.EnsureWorkConsumer(t.Context(), WorkConsumerConfig{Stage: "slow", AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	acked := make(chan uint64, 1)
	consumeInBackground(t, st, ConsumeOptions{Name: "slow", Workers: 2, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		calls.Add(1)
		start := time.Now()
		// The work itself is what takes time here.
		for time.Since(start) < 3*ackWait {
			time.Sleep(50 * time.Millisecond)
		}
		md, _ := msg.Metadata()
		_ = msg.Ack()
		acked <- md.NumDelivered
	}}, c)
	enqueue(t, st, "slow", "0000000000000C01")
	select {
	case n := <-acked:
		if n != 1 || calls.Load() != 1 {
			t.Errorf("handled %d times, delivery %d, want once", calls.Load(), n)
		}
	case <-time.After(waitBound):
		t.Fatal("the message was never acked")
	}
}

// A consumer deleted behind the daemon's back ends Consume with an error;
// the next Consume creates it again and the work flows.
func TestConsumeEndsWhenItsConsumerIsDeletedAndRecreatesIt(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	c, err := st.EnsureWorkConsumer(t.Context(), WorkConsumerConfig{Stage: "gone", AckWait: 5 * time.Second, MaxDeliver: -1, MaxAckPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	var handled sync.Map
	opts := ConsumeOptions{Name: "gone", Workers: 1, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		handled.Store(CaseOfWork(msg.Subject()), true)
		_ = msg.Ack()
	}}
	_, done := consumeInBackground(t, st, opts, c)
	enqueue(t, st, "gone", "0000000000000C02")
	waitFor(t, "first unit handled", func() bool { _, ok := handled.Load("0000000000000C02"); return ok })

	if err := st.JetStream().DeleteConsumer(t.Context(), WorkStream, c.Name()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Consume returned nil after its consumer was deleted")
		}
	case <-time.After(waitBound):
		t.Fatal("Consume ran on after its consumer was deleted")
	}
	if err := st.Ready(t.Context()); err == nil {
		// The case index is not running here, so Ready fails anyway; the
		// reason must name the consumer as well.
		t.Fatal("ready with a deleted consumer")
	}

	consumeInBackground(t, st, opts, c)
	enqueue(t, st, "gone", "0000000000000C03")
	waitFor(t, "unit handled after the restart", func() bool { _, ok := handled.Load("0000000000000C03"); return ok })
	if _, err := st.JetStream().Consumer(t.Context(), WorkStream, c.Name()); err != nil {
		t.Errorf("consumer not created again: %v", err)
	}
}

// At a stop, messages not yet started go back at once; a handler still
// running when the work is abandoned cannot ack what it cut short, nor
// give it up, and everything is redelivered to the next consumer.
func TestConsumeStopHandsBackAndAbandons(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	open := func() *Store { return openOn1(t, ns.JS) }
	first := open()
	const ackWait = 2 * time.Second
	cfg := WorkConsumerConfig{Stage: "stop", AckWait: ackWait, MaxDeliver: -1, MaxAckPending: 100}
	c, err := first.EnsureWorkConsumer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	termErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- first.Consume(ctx, ConsumeOptions{Name: "stop", Workers: 1, Log: discard, Handle: func(hctx context.Context, msg jetstream.Msg) {
			close(started)
			<-hctx.Done() // long work that only the abandonment ends
			termErr <- msg.Term()
		}}, c)
	}()
	enqueue(t, first, "stop", "0000000000000C04", "0000000000000C05", "0000000000000C06")
	<-started
	cancel()
	first.AbandonWork()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Consume at a stop: %v", err)
		}
	case <-time.After(waitBound):
		t.Fatal("Consume did not return after the work was abandoned")
	}
	if err := <-termErr; !errors.Is(err, ErrAbandoned) {
		t.Errorf("Term of abandoned work: %v, want ErrAbandoned", err)
	}

	second := open()
	c2, err := second.EnsureWorkConsumer(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var handled sync.Map
	consumeInBackground(t, second, ConsumeOptions{Name: "stop", Workers: 2, Log: discard, Handle: func(_ context.Context, msg jetstream.Msg) {
		handled.Store(CaseOfWork(msg.Subject()), true)
		_ = msg.Ack()
	}}, c2)
	for _, id := range []string{"0000000000000C04", "0000000000000C05", "0000000000000C06"} {
		waitFor(t, "unit "+id+" redelivered", func() bool { _, ok := handled.Load(id); return ok })
	}
}
