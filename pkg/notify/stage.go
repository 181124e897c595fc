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
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
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
	// VERP, when set, makes each notice's envelope sender
	// (abuse+bounce-REF-tag@…), so its bounces find the notice without the
	// returned original; nil sends from notify.from. The header From is
	// notify.from either way.
	VERP *verp.Signer
	// RouteWorkers is the concurrency of routing.
	RouteWorkers int
	// HoldStep bounds one wait of work a pause holds (pause.go); 0 means a
	// minute.
	HoldStep time.Duration
	// Health is the contact-health record of every replica: routing skips
	// an address it marks failing. Nil: only each case's own failures.
	Health ContactHealth
	// Chains is the escalation chain per route kind
	// (recheck.routes.<kind>.escalate): after the route's own contacts, a
	// failed delivery goes on to them in order (nextcontact.go).
	Chains map[string][]string
}

// ContactHealth tells which addresses bounced for good for any case
// (*contacthealth.Book is one).
type ContactHealth interface {
	Failing(ctx context.Context, addrs []string) ([]string, error)
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
	// The stage's three consumers of the work queue.
	route, followUps, flush *store.Consumer
	// joins writes the cases routed to one recipient at once together.
	joins joins
}

// New creates the buckets the stage keeps its notices in and its
// consumers of the work queue.
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
	// A flush may take a whole SMTP message deadline; it must not be handed
	// to a second replica meanwhile, or the notice would go out twice.
	// store.Consume signals progress while it runs, so the ack wait only
	// bounds how long the flushes of a replica that died wait.
	for _, c := range []struct {
		cons         **store.Consumer
		stage, about string
	}{
		{&s.route, store.StageRoute, "takedownd route stage: whom to tell"},
		{&s.followUps, store.StageNotify, "takedownd notify stage: reminders, escalations, reappeared notices"},
		{&s.flush, stageFlush, "takedownd flush stage: send a notice when its window has passed"},
	} {
		*c.cons, err = st.EnsureWorkConsumer(ctx, store.WorkConsumerConfig{
			Stage: c.stage, Description: c.about, AckWait: s.cfg.AckWait, MaxDeliver: -1, MaxAckPending: s.cfg.MaxAckPending,
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run consumes route, notify and flush work until ctx ends. When one of
// the three stops delivering, the other two are stopped and Run returns
// its error at once, so the daemon restarts the stage rather than run on
// without a part of it.
func (s *Stage) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range []struct {
		cons    *store.Consumer
		workers int
		handle  func(context.Context, jetstream.Msg)
	}{
		{s.route, max(s.opts.RouteWorkers, 1), s.handleRoute},
		{s.followUps, 2, s.handleFollowUp},
		{s.flush, s.cfg.Workers, s.handleFlush},
	} {
		g.Go(func() error {
			return s.store.Consume(ctx, store.ConsumeOptions{Name: p.cons.Name(), Workers: p.workers, Log: s.log, Handle: p.handle}, p.cons)
		})
	}
	return g.Wait()
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
