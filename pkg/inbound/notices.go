package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
)

// ErrUnknownNotice is returned by a NoticeSource for a reference it does
// not hold.
var ErrUnknownNotice = errors.New("unknown notice")

// Notice is what inbound needs of a notice record: whom it went to, how,
// and which cases it named.
type Notice struct {
	Ref     string
	Kind    string // first, reminder, escalation, reappeared, forward
	Level   string
	Channel string
	To      string
	Cases   []string
}

// NoticeSource finds a notice by its reference.
type NoticeSource interface {
	Notice(ctx context.Context, ref string) (Notice, error)
}

// KVNotices reads notices from the notify stage's KV bucket, decoding only
// the fields inbound needs, so the two stages share data, not code.
type KVNotices struct {
	kv jetstream.KeyValue
}

// OpenKVNotices binds the notices bucket (notify.NoticesBucket), which the
// notify stage creates.
func OpenKVNotices(ctx context.Context, js jetstream.JetStream, bucket string) (*KVNotices, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open notices bucket %s: %w", bucket, err)
	}
	return &KVNotices{kv: kv}, nil
}

// noticeRecord is the part of notify's record that inbound reads.
type noticeRecord struct {
	Ref     string   `json:"ref"`
	Kind    string   `json:"kind"`
	Level   string   `json:"level"`
	Channel string   `json:"channel"`
	To      string   `json:"to"`
	Cases   []string `json:"cases"`
	Dropped []string `json:"dropped"`
	Items   []struct {
		CaseID string `json:"case_id"`
	} `json:"items"`
}

// Notice implements NoticeSource. A sealed notice names its cases in its
// items; before that, in its case list less the dropped ones.
func (k *KVNotices) Notice(ctx context.Context, ref string) (Notice, error) {
	if !ValidRef(ref) {
		return Notice{}, fmt.Errorf("notice %q: %w", ref, ErrUnknownNotice)
	}
	e, err := k.kv.Get(ctx, ref)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Notice{}, fmt.Errorf("notice %s: %w", ref, ErrUnknownNotice)
	}
	if err != nil {
		return Notice{}, fmt.Errorf("get notice %s: %w", ref, err)
	}
	var rec noticeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Notice{}, fmt.Errorf("decode notice %s: %w", ref, err)
	}
	n := Notice{Ref: ref, Kind: rec.Kind, Level: rec.Level, Channel: rec.Channel, To: rec.To}
	for _, it := range rec.Items {
		if !slices.Contains(n.Cases, it.CaseID) {
			n.Cases = append(n.Cases, it.CaseID)
		}
	}
	if len(n.Cases) == 0 {
		for _, id := range rec.Cases {
			if !slices.Contains(rec.Dropped, id) {
				n.Cases = append(n.Cases, id)
			}
		}
	}
	return n, nil
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
