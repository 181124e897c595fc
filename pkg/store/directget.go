package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// directBatchSize is how many messages one batched direct get asks for;
// the server also stops at its max_pending bytes and says how many are
// left, so a longer trail takes a few requests.
const directBatchSize = 1000

// directGetRequest is the body of $JS.API.DIRECT.GET.<stream> as
// nats-server (2.11+) reads it (server.JSApiMsgGetRequest); nats.go
// v1.55 has no batched form.
type directGetRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	NextFor  string `json:"next_by_subj"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// numPendingHeader is what a batched direct get's answers carry: how
// many messages on the subject follow (nats.go names no constant for it).
const numPendingHeader = "Nats-Num-Pending"

// errDirectGet wraps an answer the server gave instead of messages.
var errDirectGet = errors.New("direct get")

// readSubject returns every message of a subject in a stream, oldest
// first, by batched direct gets: a request answered by the stream itself
// (leader or a replica) with the messages and an end-of-batch marker. It
// creates no consumer, so nothing is left on the server when it returns,
// however often it is called. The stream must allow direct get.
//
// A replica may answer before it has applied the last write: callers
// show what they read, they never decide on it.
func (s *Store) readSubject(ctx context.Context, stream, subject string) ([]*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Retry.CallTimeout)
		defer cancel()
	}
	nc := s.js.Conn()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", inbox, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	reqSubject := s.apiPrefix() + "DIRECT.GET." + stream
	var out []*nats.Msg
	var from uint64
	for {
		body, err := json.Marshal(directGetRequest{Seq: from, NextFor: subject, Batch: directBatchSize})
		if err != nil {
			return nil, fmt.Errorf("encode direct get: %w", err)
		}
		if err := nc.PublishRequest(reqSubject, inbox, body); err != nil {
			return nil, fmt.Errorf("request %s: %w", reqSubject, err)
		}
		got := len(out)
		pending, last, err := readBatch(ctx, sub, &out)
		if err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", subject, stream, err)
		}
		// A batch that brought nothing cannot be followed by one that does.
		if pending == 0 || len(out) == got || last < from {
			return out, nil
		}
		from = last + 1
	}
}

// readBatch collects one batch's messages into out until the end-of-batch
// marker, and returns the marker's count of messages still to come and
// the sequence of the last one sent.
func readBatch(ctx context.Context, sub *nats.Subscription, out *[]*nats.Msg) (pending, last uint64, err error) {
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, nats.ErrNoResponders) {
			return 0, 0, fmt.Errorf("%w: no responders (stream missing or direct get not allowed)", errDirectGet)
		}
		if err != nil {
			return 0, 0, err
		}
		if len(msg.Data) == 0 && msg.Header.Get("Status") != "" {
			switch code := msg.Header.Get("Status"); code {
			case "204": // end of batch
				pending, _ = strconv.ParseUint(msg.Header.Get(numPendingHeader), 10, 64)
				last, _ = strconv.ParseUint(msg.Header.Get(jetstream.LastSequenceHeader), 10, 64)
				return pending, last, nil
			case "404": // nothing (more) on the subject
				return 0, 0, nil
			default:
				return 0, 0, fmt.Errorf("%w: %s %s", errDirectGet, code, msg.Header.Get("Description"))
			}
		}
		*out = append(*out, msg)
	}
}

// apiPrefix is the JetStream API prefix the store's handle uses.
func (s *Store) apiPrefix() string {
	o := s.js.Options()
	switch {
	case o.APIPrefix != "":
		if o.APIPrefix[len(o.APIPrefix)-1] != '.' {
			return o.APIPrefix + "."
		}
		return o.APIPrefix
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

// msgSeq is the stream sequence a direct-get answer carries.
func msgSeq(msg *nats.Msg) uint64 {
	seq, _ := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	return seq
}
