package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// createKey stores value under key unless the key holds a value. It is
// jetstream.KeyValue.Create in one request on the way that matters to
// intake, where every report makes three of them: nats.go's Create checks
// the key with a regular expression and decodes the server's answer with
// encoding/json, which together cost more CPU than the request itself.
// Here the key is checked by a loop and a plain acknowledgement is read
// by hand; anything else (an error, a key deleted before) takes nats.go's
// path.
//
// When the key is taken, it returns the entry that holds it (read once,
// as Create would read it anyway) with an error matching
// jetstream.ErrKeyExists, so a caller that wants the holder need not read
// it again. The entry is nil when the key was taken by a deletion marker
// that went away meanwhile; the caller then reads the key itself.
func (s *Store) createKey(ctx context.Context, kv jetstream.KeyValue, key string, value []byte) (uint64, jetstream.KeyValueEntry, error) {
	if !s.plainKV || !plainKey(key) {
		rev, err := kv.Create(ctx, key, value)
		return rev, nil, err
	}
	msg := &nats.Msg{Subject: "$KV." + kv.Bucket() + "." + key, Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{"0"}}, Data: value}
	ack, err := s.publish(ctx, msg)
	if err == nil {
		return ack.Sequence, nil, nil
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence && apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequenceConstant {
		return 0, nil, err
	}
	// The key has a last message: a value (taken), or a deletion marker,
	// over which nats.go's Create writes.
	e, err := kv.Get(ctx, key)
	switch {
	case err == nil:
		return 0, e, fmt.Errorf("%w: %w", apiErr, jetstream.ErrKeyExists)
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := kv.Create(ctx, key, value)
		return rev, nil, err
	}
	return 0, nil, err
}

// publish sends msg to a stream and waits for its acknowledgement, as
// jetstream.JetStream.PublishMsg does, within the store's call timeout
// (or ctx's deadline, if sooner); a plain acknowledgement is read by hand
// (plainAck), anything else decoded. An error the server answers with is
// a *jetstream.APIError.
//
// The wait is nats.go's RequestMsg with a timeout, whose timers are
// pooled: a context with a timeout a request cost 4 % of intake's CPU at
// 256 workers. ctx is checked before each attempt; a cancellation during
// one is seen when it answers, times out, or the connection closes.
func (s *Store) publish(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	bound := time.Now().Add(s.callTimeout())
	if d, ok := ctx.Deadline(); ok && d.Before(bound) {
		bound = d
	}
	var resp *nats.Msg
	var err error
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		left := time.Until(bound)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		resp, err = s.js.Conn().RequestMsg(msg, left)
		if !errors.Is(err, nats.ErrNoResponders) {
			break
		}
		// No stream answers: on a cluster, its leader may be changing.
		// nats.go tries twice more, a quarter of a second apart.
		if attempt == 2 || time.Until(bound) < 250*time.Millisecond {
			return nil, jetstream.ErrNoStreamResponse
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if errors.Is(err, nats.ErrTimeout) {
		err = fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
	}
	if err != nil {
		return nil, err
	}
	if seq, ok := plainAck(resp.Data); ok {
		return &jetstream.PubAck{Sequence: seq}, nil
	}
	var ack struct {
		jetstream.PubAck
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, fmt.Errorf("decode acknowledgement: %w", err)
	}
	if ack.Error != nil {
		return nil, ack.Error
	}
	return &ack.PubAck, nil
}

// plainKey reports whether key is a KV key that needs no escaping in a
// subject: what nats.go's key check accepts, tested without a regexp.
func plainKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '/', c == '_', c == '=', c == '.':
		default:
			return false
		}
	}
	return true
}

// plainAck reads the sequence from the acknowledgement of a stored,
// new message as the server writes it: {"stream":"…","seq":N}, with a
// "domain" between them on a server that has one. Anything else (an
// error, a duplicate) is not plain, and is decoded in full.
func plainAck(b []byte) (uint64, bool) {
	if !bytes.HasPrefix(b, []byte(`{"stream":"`)) || bytes.Contains(b, []byte(`"error"`)) || bytes.Contains(b, []byte(`"duplicate"`)) {
		return 0, false
	}
	i := bytes.Index(b, []byte(`"seq":`))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(`"seq":`):]
	end := bytes.IndexByte(rest, '}')
	if end <= 0 {
		return 0, false
	}
	seq, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

// plainKVPuts reports whether nats.go writes to a bucket on subjects
// $KV.<bucket>.<key>: with the default JetStream API prefix, no domain.
func plainKVPuts(js jetstream.JetStream) bool {
	o := js.Options()
	return o.Domain == "" && (o.APIPrefix == "" || o.APIPrefix == jetstream.DefaultAPIPrefix)
}
