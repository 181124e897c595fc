// Package store keeps takedownd's state in JetStream: cases in a KV bucket
// changed only by compare-and-set, the audit trail as one subject per case
// in an events stream, the indexes that find a case by URL or report, the
// work queue that drives every stage, and the dead-letter stream. Replicas
// of the daemon share all of it; a crash loses nothing that was acked.
package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Names of the streams, buckets and subjects. They are part of the
// operator's interface (the nats CLI sees them), so they do not change.
const (
	EventsStream   = "TAKEDOWN_EVENTS"
	EventsPrefix   = "takedown.events."
	WorkStream     = "TAKEDOWN_WORK"
	WorkPrefix     = "takedown.work."
	DLQStream      = "TAKEDOWN_DLQ"
	DLQPrefix      = "takedown.dlq."
	CasesBucket    = "takedown_cases"
	URLIndexBucket = "takedown_urls"
	ReportsBucket  = "takedown_reports"
)

// WorkDuplicateWindow is how long the work queue remembers a unit of
// work's id: enqueueing the same step again within it is a no-op.
const WorkDuplicateWindow = 2 * time.Hour

// Options configure the store.
type Options struct {
	Replicas int
	Retry    broker.Retrier
	Now      func() time.Time
	Log      *slog.Logger
	// Metrics registers the store's counters; nil registers nothing.
	Metrics prometheus.Registerer
	// ReadyTimeout bounds one readiness check, the write it commits
	// included (health.go); 0 means 2s.
	ReadyTimeout time.Duration
	// OutboxSweep is how often RunOutbox looks for events a stopped writer
	// left in a case record (outbox.go); 0 means a minute.
	OutboxSweep time.Duration
	// Limits bound every stream and bucket (limits.go); nil: unbounded.
	Limits Limits
	// WarnPercent is the share of a limit past which CheckStorage warns;
	// 0 means 80.
	WarnPercent int
}

// Store is the JetStream-backed state of takedownd.
type Store struct {
	js      jetstream.JetStream
	opts    Options
	cases   jetstream.KeyValue
	urls    jetstream.KeyValue
	reports jetstream.KeyValue
	now     func() time.Time
	log     *slog.Logger
	index   caseIndex
	metrics *metrics

	// consumers are the durable consumers the stages ensured (consume.go).
	consumersMu sync.Mutex
	consumers   []*Consumer
	// work is the context of every handler in Consume; AbandonWork
	// cancels it when the shutdown bound comes.
	work        context.Context
	abandonWork context.CancelFunc
	health      health
	// pending lists the cases with events in their outbox (outbox.go).
	pending pendingCases
	// workHandle is the work stream, bound at its first look-up
	// (nextstep.go).
	workMu     sync.Mutex
	workHandle jetstream.Stream
	// crashAt, set by tests only, is called at each step between a change
	// and its events; an error stops the change there, as a crash would.
	crashAt func(point string) error
	usage   storageUsage
	// plainKV is true when createKey may write to a bucket itself.
	plainKV bool
}

// Open creates or updates every stream and bucket the store needs (safe to
// run on every start and from every replica at once) and returns the store.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.OutboxSweep <= 0 {
		opts.OutboxSweep = defaultOutboxSweep
	}
	s := &Store{js: js, opts: opts, now: opts.Now, log: opts.Log, index: caseIndex{state: map[string]takedown.State{}, aud: newAudiences()}, plainKV: plainKVPuts(js)}
	s.work, s.abandonWork = context.WithCancel(context.Background())
	s.metrics = newMetrics(opts.Metrics, &s.index, &s.pending, &s.usage)
	streams := []jetstream.StreamConfig{
		{
			Name:        EventsStream,
			Description: "takedownd audit trail: one subject per case",
			Subjects:    []string{EventsPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    opts.Replicas,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  EventsDuplicateWindow,
			// Timelines are read by direct get (events.go), which needs no
			// consumer and so leaves nothing behind on the server.
			AllowDirect: true,
		},
		{
			Name:        WorkStream,
			Description: "takedownd work queue: one message per pending unit of work",
			Subjects:    []string{WorkPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    opts.Replicas,
			Retention:   jetstream.WorkQueuePolicy,
			Duplicates:  WorkDuplicateWindow,
		},
		{
			Name:        DLQStream,
			Description: "takedownd dead letters: rejected messages with their reason",
			Subjects:    []string{DLQPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Replicas:    opts.Replicas,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  2 * time.Hour,
		},
	}
	for _, sc := range streams {
		if err := s.ensureStream(ctx, sc); err != nil {
			return nil, err
		}
	}
	for _, b := range []struct {
		kv          *jetstream.KeyValue
		name, about string
	}{
		{&s.cases, CasesBucket, "takedownd cases by id"},
		{&s.urls, URLIndexBucket, "open case per normalised URL"},
		{&s.reports, ReportsBucket, "case of every report id"},
	} {
		kv, err := s.EnsureKV(ctx, jetstream.KeyValueConfig{Bucket: b.name, Description: b.about, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			return nil, err
		}
		*b.kv = kv
	}
	if err := s.openHealth(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureStream(ctx context.Context, sc jetstream.StreamConfig) error {
	if err := s.limitStream(&sc); err != nil {
		return err
	}
	return storageHint(s.opts.Retry.Do(ctx, "ensure stream "+sc.Name, func(ctx context.Context) error {
		_, err := s.js.CreateOrUpdateStream(ctx, sc)
		return err
	}))
}

// EnsureStream creates or updates a stream with the store's retries; the
// stages use it for streams of their own.
func (s *Store) EnsureStream(ctx context.Context, sc jetstream.StreamConfig) error {
	if sc.Replicas == 0 {
		sc.Replicas = s.opts.Replicas
	}
	return s.ensureStream(ctx, sc)
}

// EnsureKV creates or updates a KV bucket for a stage and binds it with
// reads from the stream leader (read-your-writes: see reads.go), which is
// what every bucket read for a decision needs. A cache whose reads decide
// nothing uses EnsureCacheKV.
func (s *Store) EnsureKV(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return s.ensureKV(ctx, cfg, true)
}

func (s *Store) ensureKV(ctx context.Context, cfg jetstream.KeyValueConfig, leader bool) (jetstream.KeyValue, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = s.opts.Replicas
	}
	if err := s.limitKV(&cfg); err != nil {
		return nil, err
	}
	var kv jetstream.KeyValue
	err := s.opts.Retry.Do(ctx, "ensure kv "+cfg.Bucket, func(ctx context.Context) error {
		var err error
		if kv, err = s.js.CreateOrUpdateKeyValue(ctx, cfg); err != nil || !leader {
			return err
		}
		kv, err = s.leaderReads(ctx, cfg.Bucket)
		return err
	})
	return kv, storageHint(err)
}

// JetStream is the store's JetStream handle, for stages that consume.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }
