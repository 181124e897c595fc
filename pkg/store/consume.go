package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Consumer is a durable consumer of the daemon. It is created in the
// set-up phase (EnsureConsumer, called from a stage's constructor), so
// that a stage's Run has nothing left to create and a stop at any moment
// of start-up is clean. When consuming finds it gone (deleted by an
// operator, lost with its stream), the next Consume creates it again from
// the same configuration.
type Consumer struct {
	store  *Store
	stream string
	cfg    jetstream.ConsumerConfig

	mu   sync.Mutex
	cons jetstream.Consumer
	lost bool
}

// EnsureConsumer creates or updates a durable consumer on stream, with
// the store's retries, and registers it for readiness (Ready reports a
// registered consumer that has gone missing).
func (s *Store) EnsureConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (*Consumer, error) {
	c := &Consumer{store: s, stream: stream, cfg: cfg}
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	s.consumersMu.Lock()
	s.consumers = append(s.consumers, c)
	s.consumersMu.Unlock()
	return c, nil
}

// WorkConsumerConfig configures a stage's durable consumer of the work
// queue, takedownd-<stage> on takedown.work.<stage>.>.
type WorkConsumerConfig struct {
	Stage       string
	Description string
	// AckWait is how long a unit of work may go without an ack or a sign
	// of progress before JetStream hands it to another replica. Consume
	// signals progress while a handler runs, so it bounds how long the
	// work of a replica that died waits, not how long work may take.
	AckWait time.Duration
	// MaxDeliver bounds deliveries (-1: unbounded, the stage decides).
	MaxDeliver int
	// MaxAckPending bounds the units delivered and not yet acked, across
	// replicas; messages waiting out a NakWithDelay count too.
	MaxAckPending int
}

// EnsureWorkConsumer creates a stage's consumer of the work queue, which
// every replica shares so that each unit of work runs once.
func (s *Store) EnsureWorkConsumer(ctx context.Context, w WorkConsumerConfig) (*Consumer, error) {
	return s.EnsureConsumer(ctx, WorkStream, jetstream.ConsumerConfig{
		Durable:       "takedownd-" + w.Stage,
		Description:   w.Description,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.AckWait,
		MaxDeliver:    w.MaxDeliver,
		MaxAckPending: w.MaxAckPending,
		FilterSubject: WorkPrefix + w.Stage + ".>",
	})
}

// Name is the consumer's durable name.
func (c *Consumer) Name() string { return c.cfg.Durable }

// Stream is the stream the consumer reads.
func (c *Consumer) Stream() string { return c.stream }

func (c *Consumer) ensure(ctx context.Context) error {
	return c.store.opts.Retry.Do(ctx, "ensure consumer "+c.cfg.Durable, func(ctx context.Context) error {
		cons, err := c.store.js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.cons, c.lost = cons, false
		c.mu.Unlock()
		return nil
	})
}

// handle returns the consumer to read from, creating it again first when
// the last Consume lost it.
func (c *Consumer) handle(ctx context.Context) (jetstream.Consumer, error) {
	c.mu.Lock()
	lost := c.lost
	c.mu.Unlock()
	if lost {
		if err := c.ensure(ctx); err != nil {
			return nil, err
		}
		c.store.log.Warn("consumer created again", "consumer", c.cfg.Durable)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cons, nil
}

func (c *Consumer) markLost() {
	c.mu.Lock()
	c.lost = true
	c.mu.Unlock()
}

// ConsumeOptions configure one Consume.
type ConsumeOptions struct {
	// Name names the part in logs and errors.
	Name    string
	Workers int
	Log     *slog.Logger
	// Handle processes one message and acks, naks or terms it, or parks
	// it (Park).
	Handle func(ctx context.Context, msg jetstream.Msg)
	// MaxParked bounds the messages parked at once (park.go); 0 parks
	// none. The consumer's MaxAckPending must leave room for them.
	MaxParked int
}

// handBackDelay is the NakWithDelay of a message that was delivered but
// not started when consuming stopped: short, so another replica takes it
// at once, yet long enough that it does not bounce back to this one while
// it drains.
const handBackDelay = time.Second

// abandonGrace is how long Consume still waits for handlers once their
// work was abandoned (their context is cancelled) before it returns
// without them.
const abandonGrace = time.Second

// ErrAbandoned is what Term and TermWithReason return, doing nothing, on a
// message whose handler outlived the shutdown bound: the work was cut
// short, so the message is left to redelivery rather than given up.
var ErrAbandoned = errors.New("work abandoned at shutdown: left to redelivery")

// Consume hands the messages of the consumers to a pool of workers. It
// returns nil when ctx ends, and an error when a consumer stops
// delivering while ctx lasts (deleted behind the daemon's back, the
// connection closed): the caller restarts it or fails.
//
// While a handler runs, Consume tells JetStream every third of the ack
// wait that the work is in progress, so long work (SMTP sends, RDAP rate
// limits, probes) keeps its message and a short ack wait hands the work
// of a replica that died to another one quickly.
//
// When ctx ends it stops: messages delivered but not started go back at
// once (NakWithDelay), messages in a handler's hands are finished with a
// context that outlives ctx — until AbandonWork cancels it. Abandoned
// work is left to redelivery.
func (s *Store) Consume(ctx context.Context, opts ConsumeOptions, consumers ...*Consumer) error {
	r := &consumeRun{
		store: s, opts: opts, every: progressInterval(consumers),
		work: make(chan jetstream.Msg, opts.Workers), stopping: make(chan struct{}), failed: make(chan error, 1),
	}
	handles := make([]jetstream.Consumer, 0, len(consumers))
	for _, c := range consumers {
		h, err := c.handle(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // a stop while re-creating it is a stop
			}
			return fmt.Errorf("consume %s: %w", opts.Name, err)
		}
		handles = append(handles, h)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stopAbandon := context.AfterFunc(s.work, cancel)
	defer stopAbandon()
	for range opts.Workers {
		r.workers.Go(func() { r.worker(ctx, hctx) })
	}
	var ccs []jetstream.ConsumeContext
	for i, h := range handles {
		w := &watched{cons: h}
		cc, err := h.Consume(r.deliver,
			jetstream.PullMaxMessages(opts.Workers*2),
			// Pulls that expire every 10s bring heartbeats every 5s, so a
			// consumer deleted where no pull saw it is missed for 10s at most.
			jetstream.PullExpiry(10*time.Second),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) { r.consumeError(ctx, w, err) }))
		if err != nil {
			r.stop(ccs)
			consumers[i].markLost()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", opts.Name, err)
		}
		ccs = append(ccs, cc)
		// It may have gone between the handle and the first pull, which
		// then hears nothing: ask once.
		r.checkExists(ctx, w)
		go func() {
			select {
			case <-cc.Closed():
				r.fail(errors.New("consuming stopped"))
			case <-r.stopping:
			}
		}()
	}
	select {
	case <-ctx.Done():
		r.stop(ccs)
		return nil
	case err := <-r.failed:
		r.stop(ccs)
		if ctx.Err() != nil {
			return nil
		}
		for _, c := range consumers {
			c.markLost()
		}
		return fmt.Errorf("consume %s: %w", opts.Name, err)
	}
}

// progressInterval is a third of the shortest ack wait of the consumers.
func progressInterval(consumers []*Consumer) time.Duration {
	wait := 30 * time.Second // the server's default
	for _, c := range consumers {
		if c.cfg.AckWait > 0 {
			wait = min(wait, c.cfg.AckWait)
		}
	}
	return max(wait/3, 10*time.Millisecond)
}

// consumeRun is one Consume: its workers and its way of stopping.
type consumeRun struct {
	store    *Store
	opts     ConsumeOptions
	every    time.Duration
	work     chan jetstream.Msg
	stopping chan struct{}
	stopOnce sync.Once
	failed   chan error
	workers  sync.WaitGroup
	parked   atomic.Int64
}

// watched is a consumer a Consume reads, with whether a check that it
// still exists is under way.
type watched struct {
	cons     jetstream.Consumer
	checking atomic.Bool
}

// deliver is the consume callback: it blocks until a worker is free, so
// that the client buffers no more than a pull's worth of messages.
func (r *consumeRun) deliver(msg jetstream.Msg) {
	select {
	case <-r.stopping:
		r.handBack(msg)
		return
	default:
	}
	select {
	case r.work <- msg:
	case <-r.stopping:
		r.handBack(msg)
	}
}

// worker runs handlers with hctx until the run stops. A message taken
// once ctx (Consume's) has ended is handed back, not started: Consume
// closes stopping only when it gets to see ctx end, and a worker freed in
// between (by an abandonment) would otherwise start new work.
func (r *consumeRun) worker(ctx, hctx context.Context) {
	for {
		select {
		case <-r.stopping:
			return
		case msg := <-r.work:
			if ctx.Err() != nil || hctx.Err() != nil {
				r.handBack(msg)
				continue
			}
			select {
			case <-r.stopping:
				r.handBack(msg)
				continue
			default:
			}
			r.handle(hctx, msg)
		}
	}
}

// handle runs the handler with a progress ticker beside it.
func (r *consumeRun) handle(ctx context.Context, msg jetstream.Msg) {
	done := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		t := time.NewTicker(r.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return // abandoned: let the ack wait run out
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	})
	h := handedMsg{Msg: msg, abandoned: r.store.work.Done(), run: r}
	if back, ok := msg.(unparkedMsg); ok {
		h.Msg, h.unparked = back.Msg, true
	}
	r.opts.Handle(ctx, h)
	close(done)
	ticker.Wait()
}

func (r *consumeRun) handBack(msg jetstream.Msg) {
	if err := msg.NakWithDelay(handBackDelay); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		r.opts.Log.Debug("hand back message", "consumer", r.opts.Name, "err", err)
	}
}

// consumeError sorts what the client reports while consuming: a consumer
// that was deleted or a closed connection ends this Consume; missing
// heartbeats and "no responders" may mean the consumer is gone, which is
// asked of the server.
func (r *consumeRun) consumeError(ctx context.Context, w *watched, err error) {
	switch {
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConnectionClosed), errors.Is(err, jetstream.ErrBadRequest):
		r.fail(err)
		return
	case errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrConsumerNotFound):
		r.checkExists(ctx, w)
	}
	if !errors.Is(err, jetstream.ErrNoHeartbeat) {
		r.opts.Log.Warn("consume", "consumer", r.opts.Name, "err", err)
	}
}

// checkExists asks the server whether the consumer still exists (one
// question at a time per consumer) and ends the Consume if it does not.
func (r *consumeRun) checkExists(ctx context.Context, w *watched) {
	if !w.checking.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer w.checking.Store(false)
		cctx, cancel := context.WithTimeout(ctx, r.store.opts.Retry.CallTimeout)
		defer cancel()
		if _, err := w.cons.Info(cctx); errors.Is(err, jetstream.ErrConsumerNotFound) {
			r.fail(err)
		}
	}()
}

func (r *consumeRun) fail(err error) {
	select {
	case r.failed <- err:
	default:
	}
}

// stop ends consuming: no more pulls, messages not yet started go back,
// handlers already running finish (or are abandoned, see Consume).
func (r *consumeRun) stop(ccs []jetstream.ConsumeContext) {
	r.stopOnce.Do(func() { close(r.stopping) })
	for _, cc := range ccs {
		cc.Drain()
	}
	finished := make(chan struct{})
	go func() {
		r.workers.Wait()
		for _, cc := range ccs {
			<-cc.Closed()
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-r.store.work.Done():
		select {
		case <-finished:
		case <-time.After(abandonGrace):
			r.opts.Log.Warn("in-flight work abandoned: left to redelivery", "consumer", r.opts.Name)
		}
	}
	for {
		select {
		case msg := <-r.work:
			r.handBack(msg)
		default:
			return
		}
	}
}

// handedMsg is a message in a handler's hands: once its work is abandoned
// it can no longer be given up (Term), only left to redelivery, at once.
type handedMsg struct {
	jetstream.Msg
	abandoned <-chan struct{}
	run       *consumeRun // the Consume it came from, which can park it
	unparked  bool        // it comes back from a park
}

func (m handedMsg) isAbandoned() bool {
	select {
	case <-m.abandoned:
		return true
	default:
		return false
	}
}

// NakWithDelay implements jetstream.Msg. Work that was abandoned failed
// because of the stop, not of itself: it is redelivered without the delay.
func (m handedMsg) NakWithDelay(delay time.Duration) error {
	if m.isAbandoned() {
		return m.Msg.Nak()
	}
	return m.Msg.NakWithDelay(delay)
}

// Term implements jetstream.Msg.
func (m handedMsg) Term() error {
	if m.isAbandoned() {
		return ErrAbandoned
	}
	return m.Msg.Term()
}

// TermWithReason implements jetstream.Msg.
func (m handedMsg) TermWithReason(reason string) error {
	if m.isAbandoned() {
		return ErrAbandoned
	}
	return m.Msg.TermWithReason(reason)
}

// AbandonWork cancels the context of every handler still running in a
// Consume of this store, and makes Consume stop waiting for them: the
// shutdown bound has come. Their messages are not acked (nor termed) and
// go to another replica, or to this one after a restart, when their ack
// wait runs out.
func (s *Store) AbandonWork() { s.abandonWork() }

// CaseOfWork returns the case id (the last token) a work subject names.
func CaseOfWork(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}
