package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// ErrUnknownNotice is returned by a NoticeSource for a reference it does
// not hold.
var ErrUnknownNotice = errors.New("unknown notice")

// NoticeSource finds a notice by its reference; ErrUnknownNotice when it
// holds none.
type NoticeSource interface {
	Notice(ctx context.Context, ref string) (takedown.Notice, error)
}

// KVNotices reads notices from the bucket the notify stage keeps them in.
// The record and its rules (which cases a notice names, whether a case is
// still routed to its recipient) are the domain's (takedown.Notice), so
// the two stages share them and not each other's code.
type KVNotices struct {
	notices *store.Bucket[takedown.Notice]
}

// OpenKVNotices binds the notices bucket (notify.NoticesBucket), which the
// notify stage creates. Its reads go to the stream leader, as a bounce's
// decision needs.
func OpenKVNotices(ctx context.Context, st *store.Store, bucket string) (*KVNotices, error) {
	b, err := store.BindBucket[takedown.Notice](ctx, st, bucket, "notice")
	if err != nil {
		return nil, fmt.Errorf("open notices bucket %s: %w", bucket, err)
	}
	return &KVNotices{notices: b}, nil
}

// Notice implements NoticeSource.
func (k *KVNotices) Notice(ctx context.Context, ref string) (takedown.Notice, error) {
	if !ValidRef(ref) {
		return takedown.Notice{}, fmt.Errorf("notice %q: %w", ref, ErrUnknownNotice)
	}
	n, _, err := k.notices.Get(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return n, fmt.Errorf("notice %s: %w", ref, ErrUnknownNotice)
	}
	return n, err
}

// SeenBucket remembers ingested messages by Message-ID for the dedup
// window, beyond the events stream's own two-hour duplicate window.
const SeenBucket = "takedown_inbound_seen"

// DeadLetterKind is the dead-letter subject suffix of unmatched mail
// (takedown.dlq.inbound).
const DeadLetterKind = "inbound"

// messageKey names a message for deduplication: its Message-ID, or its
// content when it has none.
func messageKey(p parsed, raw []byte) string {
	src := []byte("id:" + p.MessageID)
	if p.MessageID == "" {
		src = append([]byte("raw:"), raw...)
	}
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:12])
}

func (in *Ingester) seen(ctx context.Context, key string) (bool, error) {
	_, err := in.seenKV.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up message %s: %w", key, err)
	}
	return true, nil
}

func (in *Ingester) markSeen(ctx context.Context, key string, res Result) error {
	b, _ := json.Marshal(map[string]any{"kind": res.Kind, "ref": res.Ref, "at": in.now().UTC()})
	if _, err := in.seenKV.Put(ctx, key, b); err != nil {
		return fmt.Errorf("remember message %s: %w", key, err)
	}
	return nil
}

// deadLetter keeps a message nobody could match in the dead-letter stream
// with a reason, for a person to read (takedownctl dlq show). The body is
// never logged. A message larger than NATS allows is kept truncated, and
// says so.
func (in *Ingester) deadLetter(ctx context.Context, key string, raw []byte, reason string) error {
	msg := nats.NewMsg(store.DLQPrefix + DeadLetterKind)
	limit := in.maxDeadLetter()
	if len(raw) > limit {
		msg.Header.Set("Takedown-Truncated-From", strconv.Itoa(len(raw)))
		raw = raw[:limit]
	}
	msg.Data = raw
	msg.Header.Set(store.HeaderRejectReason, reason)
	msg.Header.Set(store.HeaderRejectedAt, in.now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(store.HeaderRejectComponent, "inbound")
	msg.Header.Set("Content-Type", "message/rfc822")
	msg.Header.Set(jetstream.MsgIDHeader, "dlq-inbound-"+key)
	if _, err := in.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead-letter inbound message: %w", err)
	}
	return nil
}

// maxDeadLetter leaves room for headers under the server's payload limit.
func (in *Ingester) maxDeadLetter() int {
	limit := 1 << 20
	if nc := in.js.Conn(); nc != nil && nc.MaxPayload() > 0 {
		limit = int(nc.MaxPayload())
	}
	return max(limit-16<<10, 1024)
}
