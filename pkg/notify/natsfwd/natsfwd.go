// Package natsfwd forwards cases to a partner hotline that shares a NATS
// account or leaf node: the forward JSON is published on the partner's
// subject, through JetStream with the notice reference as Nats-Msg-Id when a
// stream holds the subject (so a resend is dropped as a duplicate), and as a
// plain NATS message otherwise.
package natsfwd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names set on every forward.
const (
	HeaderRef = "X-Takedown-Ref"
)

// Result is the outcome of a Forward.
type Result struct {
	Stream    string // the stream that stored it; empty for a plain publish
	Sequence  uint64
	Duplicate bool // JetStream had a message with this reference already
	// Retry says a later Forward may succeed; false with Err set means it never will.
	Retry bool
	Err   error
}

// Forwarder publishes forwards.
type Forwarder struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration
	log     *slog.Logger
}

// New returns a Forwarder. js may be nil to publish plain NATS only; timeout
// bounds each Forward (default 5s).
func New(nc *nats.Conn, js jetstream.JetStream, timeout time.Duration, logger *slog.Logger) *Forwarder {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Forwarder{nc: nc, js: js, timeout: timeout, log: logger}
}

// Forward publishes body on subject with ref as its message id.
func (f *Forwarder) Forward(ctx context.Context, subject, ref string, body []byte) Result {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, ref)
	msg.Header.Set(HeaderRef, ref)
	msg.Header.Set("Content-Type", "application/json")

	if f.js != nil {
		stream, err := f.js.StreamNameBySubject(ctx, subject)
		switch {
		case err == nil:
			ack, err := f.js.PublishMsg(ctx, msg)
			if err != nil {
				return failed(fmt.Errorf("publish forward %s to stream %s: %w", ref, stream, err))
			}
			return Result{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			return failed(fmt.Errorf("look up stream for %s: %w", subject, err))
		}
	}
	if err := f.nc.PublishMsg(msg); err != nil {
		return failed(fmt.Errorf("publish forward %s: %w", ref, err))
	}
	// Flush so that "published" means the server has it, not our buffer.
	if err := f.nc.FlushWithContext(ctx); err != nil {
		return failed(fmt.Errorf("flush forward %s: %w", ref, err))
	}
	return Result{}
}

// failed classifies err: a malformed subject or payload will never go
// through; anything else (timeouts, no connection) may.
func failed(err error) Result {
	permanent := errors.Is(err, nats.ErrBadSubject) || errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrInvalidSubject)
	return Result{Retry: !permanent, Err: err}
}
