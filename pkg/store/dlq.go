package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderRejectReason    = "Takedown-Reject-Reason"
	HeaderRejectedAt      = "Takedown-Rejected-At"
	HeaderOrigSubject     = "Takedown-Original-Subject"
	HeaderOrigStream      = "Takedown-Original-Stream"
	HeaderOrigSequence    = "Takedown-Original-Sequence"
	HeaderRejectComponent = "Takedown-Rejected-By"
)

// DeadLetter is a rejected message as kept in the dead-letter stream.
type DeadLetter struct {
	Seq        uint64      `json:"seq"`
	Subject    string      `json:"subject"`
	Reason     string      `json:"reason"`
	RejectedAt time.Time   `json:"rejected_at"`
	By         string      `json:"rejected_by"`
	OrigSubj   string      `json:"original_subject"`
	OrigSeq    uint64      `json:"original_sequence"`
	Header     nats.Header `json:"header"`
	Data       []byte      `json:"data"`
}

// Reject keeps a message that cannot be processed in the dead-letter
// stream, with its payload, headers and reason. The dead letter's msg id
// is derived from the original's position, so rejecting a redelivered
// message twice keeps one copy.
func (s *Store) Reject(ctx context.Context, kind, by string, msg jetstream.Msg, reason string) error {
	dl := nats.NewMsg(DLQPrefix + kind)
	dl.Data = msg.Data()
	for k, vs := range msg.Headers() {
		for _, v := range vs {
			dl.Header.Add(k, v)
		}
	}
	// The original's Nats-Msg-Id would make the DLQ drop two different
	// rejects of the same report id: keep it under another name.
	if id := dl.Header.Get(jetstream.MsgIDHeader); id != "" {
		dl.Header.Del(jetstream.MsgIDHeader)
		dl.Header.Set("Takedown-Original-Msg-Id", id)
	}
	dl.Header.Set(HeaderRejectReason, reason)
	dl.Header.Set(HeaderRejectedAt, s.now().UTC().Format(time.RFC3339Nano))
	dl.Header.Set(HeaderRejectComponent, by)
	dl.Header.Set(HeaderOrigSubject, msg.Subject())
	if md, err := msg.Metadata(); err == nil {
		dl.Header.Set(HeaderOrigStream, md.Stream)
		dl.Header.Set(HeaderOrigSequence, strconv.FormatUint(md.Sequence.Stream, 10))
		dl.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dlq-%s-%d", md.Stream, md.Sequence.Stream))
	}
	ack, err := s.js.PublishMsg(ctx, dl)
	if err != nil {
		return fmt.Errorf("dead-letter message: %w", err)
	}
	if !ack.Duplicate {
		s.metrics.deadLetters.WithLabelValues(kind).Inc()
	}
	return nil
}

// DeadLetters lists up to limit dead letters with sequence > after.
func (s *Store) DeadLetters(ctx context.Context, after uint64, limit int) ([]DeadLetter, error) {
	stream, err := s.js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter stream: %w", err)
	}
	var out []DeadLetter
	for seq := max(after+1, info.State.FirstSeq); seq <= info.State.LastSeq && len(out) < limit; seq++ {
		dl, err := s.DeadLetter(ctx, seq)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	return out, nil
}

// DeadLetter returns one dead letter by its sequence.
func (s *Store) DeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	stream, err := s.js.Stream(ctx, DLQStream)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("open dead-letter stream: %w", err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	dl := DeadLetter{
		Seq: raw.Sequence, Subject: raw.Subject, Header: raw.Header, Data: raw.Data,
		Reason: raw.Header.Get(HeaderRejectReason), By: raw.Header.Get(HeaderRejectComponent),
		OrigSubj: raw.Header.Get(HeaderOrigSubject),
	}
	dl.RejectedAt, _ = time.Parse(time.RFC3339Nano, raw.Header.Get(HeaderRejectedAt))
	dl.OrigSeq, _ = strconv.ParseUint(raw.Header.Get(HeaderOrigSequence), 10, 64)
	return dl, nil
}
