// Package intake turns confirmed reports from the analyst tool into cases.
// It consumes the report stream, rejects what is wrong into the dead-letter
// stream with a reason a person can read, joins a report to the open case
// of its URL or opens one, and hands new cases to enrichment.
package intake

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// ConsumerName is the durable consumer every replica shares.
const ConsumerName = "takedownd-intake"

// Intake is the report consumer.
type Intake struct {
	cfg   config.Intake
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	cons  *store.Consumer
}

// New creates the report stream and the durable consumer if needed.
func New(ctx context.Context, cfg config.Intake, st *store.Store, log *slog.Logger) (*Intake, error) {
	in := &Intake{cfg: cfg, store: st, log: log, now: st.Now}
	err := st.EnsureStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "confirmed reports from the analyst tool (report message v1)",
		Subjects:    []string{cfg.Subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  cfg.DuplicateWindow,
	})
	if err != nil {
		return nil, err
	}
	in.cons, err = st.EnsureConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "takedownd intake: reports to cases",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: cfg.Workers * 4,
		FilterSubject: cfg.Subject,
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Run consumes reports until ctx ends, then drains: reports already in a
// worker's hands are finished and acked before Run returns (see
// store.Consume). It returns an error when the consumer stops delivering.
func (in *Intake) Run(ctx context.Context) error {
	return in.store.Consume(ctx, store.ConsumeOptions{Name: ConsumerName, Workers: in.cfg.Workers, Log: in.log, Handle: in.handle}, in.cons)
}

func (in *Intake) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		in.log.Error("intake message without metadata", "err", err)
		_ = msg.Term()
		return
	}
	attempt := md.NumDelivered
	rep, nu, reason := in.decode(msg)
	if reason != "" {
		in.reject(ctx, msg, reason)
		return
	}
	caseID, err := in.process(ctx, rep, nu, md)
	if err == nil {
		if err := msg.Ack(); err != nil {
			in.log.Warn("ack report", "case_id", caseID, "err", err)
		}
		return
	}
	if attempt >= uint64(in.cfg.MaxDeliver) {
		// The last delivery: JetStream would drop it silently after this,
		// so it goes to the dead letters instead, with the cause.
		in.reject(ctx, msg, fmt.Sprintf("gave up after %d attempts: %v", attempt, err))
		return
	}
	delay := in.backoff(attempt)
	in.log.Warn("report not processed, will retry", "stream_seq", md.Sequence.Stream, "attempt", attempt, "retry_in", delay, "err", err)
	_ = msg.NakWithDelay(delay)
}

func (in *Intake) backoff(attempt uint64) time.Duration {
	if len(in.cfg.Backoff) == 0 {
		return time.Second
	}
	i := min(int(attempt)-1, len(in.cfg.Backoff)-1)
	return in.cfg.Backoff[max(i, 0)]
}

// decode validates the message; a non-empty reason rejects it.
func (in *Intake) decode(msg jetstream.Msg) (takedown.Report, urlnorm.URL, string) {
	return in.decodeReport(msg.Data(), msg.Headers())
}

func (in *Intake) decodeReport(data []byte, hdr nats.Header) (takedown.Report, urlnorm.URL, string) {
	rep, err := takedown.DecodeReport(data, in.cfg.MaxReportBytes, in.now())
	if err != nil {
		return rep, urlnorm.URL{}, err.Error()
	}
	if id := hdr.Get(jetstream.MsgIDHeader); id != "" && id != rep.ReportID {
		return rep, urlnorm.URL{}, fmt.Sprintf("invalid report: header Nats-Msg-Id %q differs from report_id %q", id, rep.ReportID)
	}
	nu, err := urlnorm.Parse(rep.URL)
	if err != nil {
		return rep, nu, "invalid report: url: " + err.Error()
	}
	return rep, nu, ""
}

func (in *Intake) reject(ctx context.Context, msg jetstream.Msg, reason string) {
	md, _ := msg.Metadata()
	var seq uint64
	if md != nil {
		seq = md.Sequence.Stream
	}
	if err := in.store.Reject(ctx, "reports", "intake", msg, reason); err != nil {
		// Not kept yet: leave it to redelivery rather than lose it.
		in.log.Warn("dead-letter report", "stream_seq", seq, "err", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	in.log.Info("report rejected", "stream_seq", seq, "reason", reason)
	if err := msg.TermWithReason(truncate(reason, 200)); err != nil {
		in.log.Warn("terminate rejected report", "stream_seq", seq, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
