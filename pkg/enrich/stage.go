package enrich

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// ConsumerName is the durable consumer of enrich work every replica shares.
const ConsumerName = "takedownd-enrich"

// Actor names the stage in events.
const Actor = "enrich"

// The optional body of an enrich work message is a takedown.EnrichRequest.
// Intake sends none for a new case: a case is then enriched only while it
// is received or unresolvable, so a late redelivery cannot pull a routed
// case back. A request with a reason (a re-check that saw the hoster
// change, a new report of a case in review or unresolvable, the slow retry
// of an unresolvable host, the reconciler) enriches an open case in any
// state that may move to enriched.

// StageConfig configures the enrich consumer.
type StageConfig struct {
	Workers int
	AckWait time.Duration
	// MaxAttempts bounds retries after DNS or RDAP failures.
	MaxAttempts int
	// Backoff is the wait before the next attempt; the last entry repeats.
	Backoff []time.Duration
	// UnresolvableRetry is when an unresolvable host is tried again,
	// quickly, while its work stays pending; after the last, re-checks
	// take over with a slow retry (takedown.CheckResume).
	UnresolvableRetry []time.Duration
	// MaxParked is how many cases at most wait, parked (store.Park), for
	// their networks' RDAP answers without holding a worker; 0: a case's
	// worker waits itself. The enricher's Prefetch makes the lookups.
	MaxParked int
}

// Stage consumes takedown.work.enrich.<case id>, records the enrichment
// on the case and asks routing to act.
type Stage struct {
	cfg   StageConfig
	store *store.Store
	enr   *Enricher
	log   *slog.Logger
	cons  *store.Consumer
}

// NewStage creates the durable consumer if needed.
func NewStage(ctx context.Context, cfg StageConfig, st *store.Store, enr *Enricher, log *slog.Logger) (*Stage, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 1
	}
	s := &Stage{cfg: cfg, store: st, enr: enr, log: log}
	var err error
	s.cons, err = ensureWorkConsumer(ctx, st, cfg, ConsumerName,
		"takedownd enrich: who hosts a case's URL and whom to tell", store.StageEnrich)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ensureWorkConsumer makes one of enrichment's durable consumers of work
// units (enrich, escalate).
func ensureWorkConsumer(ctx context.Context, st *store.Store, cfg StageConfig, name, description, stage string) (*store.Consumer, error) {
	return st.EnsureConsumer(ctx, store.WorkStream, jetstream.ConsumerConfig{
		Durable:     name,
		Description: description,
		AckPolicy:   jetstream.AckExplicitPolicy,
		// store.Consume signals progress while RDAP lookups wait for a
		// server's rate limit, so the ack wait need not cover them.
		AckWait: cfg.AckWait,
		// Our own attempt count decides when to give up (see handle);
		// JetStream must never drop a case's work silently.
		MaxDeliver: -1,
		// Messages waiting out a NakWithDelay (unresolvable hosts, RDAP
		// backoff, a registrar's rate limit after a burst) stay pending,
		// so the bound leaves room for them.
		// Parked cases are pending too.
		MaxAckPending: cfg.Workers*4 + 10_000 + cfg.MaxParked,
		FilterSubject: store.WorkPrefix + stage + ".>",
	})
}

// Run consumes until ctx ends, then drains: cases already in a worker's
// hands are finished before Run returns (see store.Consume). It returns
// an error when the consumer stops delivering.
func (s *Stage) Run(ctx context.Context) error {
	// The lookups of parked cases belong to the run, not to one handler.
	handle := func(hctx context.Context, msg jetstream.Msg) { s.handle(hctx, ctx, msg) }
	return s.store.Consume(ctx, store.ConsumeOptions{Name: ConsumerName, Workers: s.cfg.Workers, MaxParked: s.cfg.MaxParked, Log: s.log, Handle: handle}, s.cons)
}

// handle runs one unit of work and settles the message; life is the run's.
func (s *Stage) handle(ctx, life context.Context, msg jetstream.Msg) {
	w, ok := newUnit(s, msg, "enrich")
	if !ok {
		return
	}
	w.life = life
	var req takedown.EnrichRequest
	if len(msg.Data()) > 0 {
		if err := json.Unmarshal(msg.Data(), &req); err != nil {
			s.log.Error("enrich work with a malformed body", "case_id", w.caseID, "err", err)
			_ = msg.TermWithReason("malformed body")
			return
		}
	}
	w.req = req
	w.settle(w.run(ctx))
}

// newUnit reads a work message's case id and delivery; what names the
// work in logs. It settles a message it cannot read (false).
func newUnit(s *Stage, msg jetstream.Msg, what string) (*unit, bool) {
	md, err := msg.Metadata()
	if err != nil {
		s.log.Error(what+" message without metadata", "err", err)
		_ = msg.Term()
		return nil, false
	}
	caseID := store.CaseOfWork(msg.Subject())
	if !store.ValidCaseID(caseID) {
		s.log.Error(what+" work for a malformed case id", "subject", msg.Subject())
		_ = msg.TermWithReason("malformed case id")
		return nil, false
	}
	return &unit{stage: s, msg: msg, caseID: caseID, seq: md.Sequence.Stream, attempt: md.NumDelivered}, true
}

// pick returns the wait after the given (1-based) attempt from a schedule,
// and false once the schedule is used up (its last entry is returned then,
// for schedules whose last entry repeats).
func pick(ds []time.Duration, attempt uint64, fallback time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return fallback, true
	}
	i := int(attempt) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(ds) {
		return ds[len(ds)-1], false
	}
	return ds[i], true
}
