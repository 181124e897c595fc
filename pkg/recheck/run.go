package recheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Run consumes fired checks and check work with cfg.Workers workers and
// sweeps follow-ups every cfg.SweepInterval, until ctx ends; then it
// drains: checks already handed to a worker finish before Run returns.
// When consuming fails, the sweeper stops too and Run returns the error
// at once: the daemon restarts both (see package app).
func (r *Recheck) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		r.sweepLoop(ctx)
	}()
	err := r.store.Consume(ctx, store.ConsumeOptions{Name: DueConsumer, Workers: r.cfg.Workers, Log: r.log, Handle: r.handle}, r.due, r.work)
	cancel()
	<-sweepDone
	return err
}

// handle runs one fired check or one unit of check work and acks it.
func (r *Recheck) handle(ctx context.Context, msg jetstream.Msg) {
	subj := msg.Subject()
	caseID := store.CaseOfWork(subj)
	if !store.ValidCaseID(caseID) {
		r.log.Error("check for an invalid case id dropped", "subject", subj)
		_ = msg.Term()
		return
	}
	// store.Consume signals progress while the check runs, so it may
	// outlast the ack wait; it is bounded by its probe and a few store
	// calls, so that a check that hangs gives its message back.
	ctx, cancel := context.WithTimeout(ctx, r.checkTimeout())
	defer cancel()
	err := r.dispatch(ctx, caseID, msg)
	if err == nil {
		if err := msg.Ack(); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			r.log.Warn("ack check", "case_id", caseID, "err", err)
		}
		return
	}
	md, mdErr := msg.Metadata()
	if mdErr == nil && r.cfg.MaxDeliver > 0 && md.NumDelivered >= uint64(r.cfg.MaxDeliver) {
		// The reconciler resumes the plan of a watched case.
		r.log.Error("check given up", "case_id", caseID, "attempts", md.NumDelivered, "err", err)
		_ = msg.TermWithReason("gave up")
		return
	}
	delay := 5 * time.Second
	if errors.Is(err, errRetry) {
		delay = time.Second
	} else {
		r.log.Warn("check failed, will retry", "case_id", caseID, "retry_in", delay, "err", err)
	}
	_ = msg.NakWithDelay(delay)
}

// checkTimeout bounds one check: the probe (which bounds itself) and the
// store calls that record it and schedule the next.
func (r *Recheck) checkTimeout() time.Duration {
	return r.cfg.Probe.Timeout + 4*max(r.retry.CallTimeout, 5*time.Second)
}

func (r *Recheck) dispatch(ctx context.Context, caseID string, msg jetstream.Msg) error {
	if strings.HasPrefix(msg.Subject(), DuePrefix) {
		var d Due
		if err := json.Unmarshal(msg.Data(), &d); err != nil {
			// A fired check we cannot read is still a check that is due.
			return r.Check(ctx, caseID, triggerSchedule, nil)
		}
		return r.Check(ctx, caseID, triggerSchedule, &d)
	}
	req := takedown.CheckRequest{Kind: CheckStart}
	if len(msg.Data()) > 0 {
		if err := json.Unmarshal(msg.Data(), &req); err != nil {
			r.log.Error("unreadable check request dropped", "case_id", caseID, "err", err)
			return nil
		}
	}
	switch req.Kind {
	case CheckNow:
		by := req.By
		if by == "" {
			by = "unknown"
		}
		return r.Check(ctx, caseID, "demand:"+by, nil)
	case CheckResume:
		if req.At.IsZero() {
			req.At = r.now()
		}
		return r.Resume(ctx, caseID, req.At)
	default:
		if req.At.IsZero() {
			if md, err := msg.Metadata(); err == nil {
				req.At = md.Timestamp
			} else {
				req.At = r.now()
			}
		}
		return r.Begin(ctx, caseID, req.At)
	}
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}
