package enrich

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// EscalationConsumerName is the durable consumer of escalate work every
// replica shares.
const EscalationConsumerName = "takedownd-escalate"

// EscalationStage consumes takedown.work.escalate.<case id>: for a case
// whose first enrichment left the levels above the hoster for later
// (takedown.Enrichment.EscalationPending), it looks them up and writes
// them into the case's contacts with a compare-and-set and an
// escalation_chain event. It has a consumer and workers of its own, so
// that its lookups, which wait for the registrars' rate limits, never
// hold up a first notice; the enrich stage enqueues its work before the
// case goes on to routing, and the reconciler asks again for a case that
// lacks it (takedown.MissingEscalation), so a crash loses none.
type EscalationStage struct {
	// base is what a unit of work runs with: the enrich stage's
	// configuration, store, enricher and logger, with this stage's values.
	base *Stage
	cons *store.Consumer
}

// NewEscalationStage creates the durable consumer if needed. cfg's
// MaxAttempts and Backoff bound its retries; UnresolvableRetry is unused.
func NewEscalationStage(ctx context.Context, cfg StageConfig, st *store.Store, enr *Enricher, log *slog.Logger) (*EscalationStage, error) {
	cfg.Workers = max(cfg.Workers, 1)
	cfg.MaxAttempts = max(cfg.MaxAttempts, 1)
	s := &EscalationStage{base: &Stage{cfg: cfg, store: st, enr: enr, log: log}}
	var err error
	// A burst leaves a unit per case here, most of them waiting for a
	// registrar's rate limit or its backoff: the consumer's bound leaves room.
	s.cons, err = ensureWorkConsumer(ctx, st, cfg, EscalationConsumerName,
		"takedownd escalate: the registrar, parent network and AS above a case's hoster", takedown.WorkEscalate)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Run consumes until ctx ends, then drains (see store.Consume).
func (s *EscalationStage) Run(ctx context.Context) error {
	b := s.base
	return b.store.Consume(ctx, store.ConsumeOptions{Name: EscalationConsumerName, Workers: b.cfg.Workers, Log: b.log, Handle: s.handle}, s.cons)
}

func (s *EscalationStage) handle(ctx context.Context, msg jetstream.Msg) {
	w, ok := newUnit(s.base, msg, "escalate")
	if !ok {
		return
	}
	w.settle(w.escalate(ctx))
}

// escalate is one delivery of escalate work.
func (w *unit) escalate(ctx context.Context) outcome {
	c, stop, ok := w.loadCase(ctx, "escalate")
	if !ok {
		return stop
	}
	if !c.State.Open() || c.Enrichment == nil || !c.Enrichment.EscalationPending {
		return outcome{action: ack} // closed, or the chain is in (a redelivery)
	}
	u, err := urlnorm.Parse(c.URL)
	if err != nil {
		return outcome{action: term, reason: "url no longer parses"}
	}
	base := c.Enrichment.At
	esc, err := w.stage.enr.Escalation(ctx, u, c.Enrichment)
	if err != nil && w.attempt < uint64(w.stage.cfg.MaxAttempts) {
		return w.retry(err)
	}
	// At the last attempt what was found is kept, the gaps listed.
	_, err = w.stage.store.Update(ctx, w.caseID, func(c *takedown.Case) ([]takedown.Event, error) {
		if !c.State.Open() || c.Enrichment == nil || !c.Enrichment.EscalationPending || !c.Enrichment.At.Equal(base) {
			// Closed, done, or enriched afresh meanwhile: the fresh
			// enrichment has escalate work of its own.
			return nil, store.ErrNoChange
		}
		esc.Apply(c.Enrichment)
		ev := takedown.Event{
			ID: fmt.Sprintf("%s-%s-%d", takedown.EventEscalationChain, w.caseID, w.seq), CaseID: w.caseID,
			Type: takedown.EventEscalationChain, Actor: Actor, Reason: esc.reason(), From: c.State, To: c.State,
		}.WithData(esc.summary())
		return []takedown.Event{ev}, nil
	})
	if err != nil {
		return w.retry(err)
	}
	return outcome{action: ack}
}
