package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

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
// first, and creates no consumer: nothing is left on the server when it
// returns, however often it is called. The stream must allow direct get.
//
// The messages come by batched direct get, which any replica of the
// stream may answer, also one that has not applied the newest writes. So
// the leader is asked first for the subject's last sequence (one small
// request), and what a lagging replica left out is read from the leader:
// a caller sees at least every message written before it asked.
func (s *Store) readSubject(ctx context.Context, stream, subject string) ([]*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Retry.CallTimeout)
		defer cancel()
	}
	want, err := s.leaderLastSeq(ctx, stream, subject)
	if err != nil || want == 0 {
		return nil, err
	}
	out, err := s.directBatches(ctx, stream, subject, want)
	if err != nil {
		return nil, err
	}
	var have uint64
	if len(out) > 0 {
		have = msgSeq(out[len(out)-1])
	}
	for have < want {
		msg, err := s.leaderNext(ctx, stream, subject, have+1)
		if err != nil {
			return nil, err
		}
		if msg == nil { // removed meanwhile (a limit, a purge)
			break
		}
		out = append(out, msg)
		have = msgSeq(msg)
	}
	return out, nil
}

// directBatches reads the subject from its first message on by batched
// direct gets until the end or past sequence upTo.
func (s *Store) directBatches(ctx context.Context, stream, subject string, upTo uint64) ([]*nats.Msg, error) {
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
		if pending == 0 || len(out) == got || last < from || last >= upTo {
			return out, nil
		}
		from = last + 1
	}
}

// msgGetResponse is the answer of $JS.API.STREAM.MSG.GET.<stream>.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error"`
	Message *struct {
		Subject string    `json:"subject"`
		Seq     uint64    `json:"seq"`
		Header  []byte    `json:"hdrs"`
		Data    []byte    `json:"data"`
		Time    time.Time `json:"time"`
	} `json:"message"`
}

// leaderGet asks the stream leader for one message ($JS.API.STREAM.MSG.GET
// is answered by the leader only). It returns nil when there is none.
func (s *Store) leaderGet(ctx context.Context, stream string, req any) (*nats.Msg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode message get: %w", err)
	}
	reply, err := s.js.Conn().RequestWithContext(ctx, s.apiPrefix()+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return nil, fmt.Errorf("get message from %s: %w", stream, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("decode message from %s: %w", stream, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("get message from %s: %w", stream, resp.Error)
	}
	if resp.Message == nil {
		return nil, fmt.Errorf("get message from %s: %w", stream, jetstream.ErrInvalidJetStreamResponse)
	}
	m := resp.Message
	msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
	if len(m.Header) > 0 {
		if msg.Header, err = nats.DecodeHeadersMsg(m.Header); err != nil {
			return nil, fmt.Errorf("decode headers from %s: %w", stream, err)
		}
	}
	msg.Header.Set(jetstream.SequenceHeader, strconv.FormatUint(m.Seq, 10))
	return msg, nil
}

// leaderLastSeq is the sequence of the subject's last message as the
// stream leader knows it (0 when there is none).
func (s *Store) leaderLastSeq(ctx context.Context, stream, subject string) (uint64, error) {
	msg, err := s.leaderGet(ctx, stream, map[string]string{"last_by_subj": subject})
	if err != nil || msg == nil {
		return 0, err
	}
	return msgSeq(msg), nil
}

// leaderNext is the subject's first message at or after seq, from the
// stream leader (nil when there is none).
func (s *Store) leaderNext(ctx context.Context, stream, subject string, seq uint64) (*nats.Msg, error) {
	return s.leaderGet(ctx, stream, map[string]any{"seq": seq, "next_by_subj": subject})
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
