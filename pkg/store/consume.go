package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Worker configures a stage's share of the work queue.
type Worker struct {
	Stage      string
	Workers    int
	AckWait    time.Duration
	MaxDeliver int
	Log        *slog.Logger
	// Handle processes one unit of work and acks, naks or terms it.
	Handle func(ctx context.Context, msg jetstream.Msg)
}

// RunWorker consumes takedown.work.<stage>.> with a durable consumer that
// every replica shares, so each unit of work runs once, until ctx ends.
// Then it drains: units already handed to a worker are finished (with a
// context that outlives ctx) before it returns.
func (s *Store) RunWorker(ctx context.Context, w Worker) error {
	var cons jetstream.Consumer
	name := "takedownd-" + w.Stage
	err := s.opts.Retry.Do(ctx, "ensure consumer "+name, func(ctx context.Context) error {
		var err error
		cons, err = s.js.CreateOrUpdateConsumer(ctx, WorkStream, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   "takedownd " + w.Stage + " stage",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       w.AckWait,
			MaxDeliver:    w.MaxDeliver,
			MaxAckPending: w.Workers * 4,
			FilterSubject: WorkPrefix + w.Stage + ".>",
		})
		return err
	})
	if err != nil {
		return err
	}
	return Consume(ctx, w.Workers, w.Log, w.Stage, w.Handle, cons)
}

// Consume hands the messages of one or more consumers to a pool of
// workers until ctx ends, then drains: messages already handed out are
// finished, with a context that outlives ctx, before it returns. Every
// consuming part of the daemon (intake and each stage) runs on it.
func Consume(ctx context.Context, workers int, log *slog.Logger, name string, handle func(context.Context, jetstream.Msg), consumers ...jetstream.Consumer) error {
	work := make(chan jetstream.Msg, workers)
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for msg := range work {
				handle(workCtx, msg)
			}
		})
	}
	var ccs []jetstream.ConsumeContext
	stop := func() {
		for _, cc := range ccs {
			cc.Drain()
			<-cc.Closed()
		}
		close(work)
		wg.Wait()
	}
	for _, cons := range consumers {
		cc, err := cons.Consume(func(msg jetstream.Msg) { work <- msg },
			jetstream.PullMaxMessages(workers*2),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if !errors.Is(err, jetstream.ErrNoHeartbeat) {
					log.Warn("consume", "consumer", name, "err", err)
				}
			}))
		if err != nil {
			stop()
			return fmt.Errorf("consume %s: %w", name, err)
		}
		ccs = append(ccs, cc)
	}
	<-ctx.Done()
	stop()
	return nil
}

// CaseOfWork returns the case id (the last token) a work subject names.
func CaseOfWork(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}
