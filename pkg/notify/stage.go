// Package notify is the stage that tells someone: it routes enriched cases
// (by the policy in package route), gathers URLs per abuse contact into one
// notice per batching window, delivers notices by e-mail and forwards to
// partner hotlines, and records every attempt on the cases' timelines.
// Channels live in sub-packages (smtp, outbox, webhook); rendering lives in
// package notice.
package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Buckets and the stage names of this package's work.
const (
	NoticesBucket = "takedown_notices"
	BatchesBucket = "takedown_batches"
	stageFlush    = "flush"
)

// Mailer delivers a rendered message; *smtp.Sender and *outbox.Outbox
// both are one.
type Mailer interface {
	Send(ctx context.Context, from string, rcpts []string, msg []byte) smtp.Result
}

// Forwarder posts a forward to a partner's webhook.
type Forwarder interface {
	Forward(ctx context.Context, ref string, body []byte) (retry bool, err error)
}

// NATSForwarder publishes a forward to a partner's NATS subject.
type NATSForwarder interface {
	Forward(ctx context.Context, subject, ref string, body []byte) (retry bool, err error)
}

// Options are what the stage needs from the daemon.
type Options struct {
	Config   config.Notify
	Policy   route.Policy
	Renderer *notice.Renderer
	Mailer   Mailer
	// Webhooks are forwarders by partner country.
	Webhooks map[string]Forwarder
	// NATS forwards to partners on a shared NATS account or leaf node.
	NATS NATSForwarder
	// OnNoticed is told when a case's notice or forward was delivered, so
	// that re-checks start; it must be idempotent.
	OnNoticed func(ctx context.Context, caseID string, at time.Time) error
	Now       func() time.Time
	Log       *slog.Logger
	// RouteWorkers is the concurrency of routing.
	RouteWorkers int
}

// Stage routes, batches and delivers.
type Stage struct {
	opts    Options
	cfg     config.Notify
	store   *store.Store
	js      jetstream.JetStream
	rec     records
	now     func() time.Time
	log     *slog.Logger
	window  *sendWindow
	hotline notice.Hotline
}

// New creates the buckets the stage keeps its notices in.
func New(ctx context.Context, st *store.Store, opts Options) (*Stage, error) {
	s := &Stage{opts: opts, cfg: opts.Config, store: st, js: st.JetStream(), now: opts.Now, log: opts.Log}
	var err error
	if s.rec.notices, err = store.OpenBucket[takedown.Notice](ctx, st, jetstream.KeyValueConfig{Bucket: NoticesBucket, Description: "takedownd notices and forwards by reference", History: 1, Storage: jetstream.FileStorage}, "notice"); err != nil {
		return nil, err
	}
	if s.rec.batches, err = st.EnsureKV(ctx, jetstream.KeyValueConfig{Bucket: BatchesBucket, Description: "open notice per abuse contact", History: 1, Storage: jetstream.FileStorage}); err != nil {
		return nil, err
	}
	if s.window, err = newSendWindow(opts.Config.SendWindow); err != nil {
		return nil, err
	}
	h := opts.Config.Hotline
	s.hotline = notice.Hotline{Name: h.Name, Country: h.Country, Website: h.Website, Phone: h.Phone}
	return s, nil
}

// Run consumes route, notify and flush work until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	// A flush may take a whole SMTP message deadline and then some; it must
	// not be handed to a second worker meanwhile, or the notice would go
	// out twice.
	flushWait := max(2*time.Minute, 2*s.cfg.SMTP.MessageTimeout+30*time.Second)
	workers := []store.Worker{
		{Stage: store.StageRoute, Workers: max(s.opts.RouteWorkers, 1), Handle: s.handleRoute, AckWait: 2 * time.Minute},
		{Stage: store.StageNotify, Workers: 2, Handle: s.handleFollowUp, AckWait: 2 * time.Minute},
		{Stage: stageFlush, Workers: s.cfg.Workers, Handle: s.handleFlush, AckWait: flushWait},
	}
	errs := make(chan error, len(workers))
	var wg sync.WaitGroup
	for _, w := range workers {
		w.MaxDeliver, w.Log = -1, s.log
		wg.Go(func() { errs <- s.store.RunWorker(ctx, w) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Notice returns a notice record by reference (for the API); ErrNotFound
// from package store when there is none.
func (s *Stage) Notice(ctx context.Context, ref string) (takedown.Notice, error) {
	rec, _, err := s.rec.notices.Get(ctx, ref)
	return rec, err
}

// backoff is the wait before delivery attempt n+1.
func (s *Stage) backoff(attempt int) time.Duration {
	b := s.cfg.RetryBackoff
	return b[min(max(attempt-1, 0), len(b)-1)]
}
