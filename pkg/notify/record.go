package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Notice states. A notice is recorded before it is sent (the intent), so a
// crash between sending and recording resends the same message, with the
// same Message-ID, instead of sending a second, different one.
const (
	StateOpen    = "open"    // collecting URLs in its batching window
	StateSealing = "sealing" // closed to new URLs; its cases are being recorded
	StateSending = "sending" // sealed: items fixed, being delivered
	StateSent    = "sent"
	StateFailed  = "failed"
	StateDropped = "dropped" // every URL closed or moved before sending
)

// Record is a notice or forward as kept in the notices bucket: who, which
// channel, which URLs, and what became of it. GET /v1/notices/{ref}.
type Record struct {
	Ref        string    `json:"ref"`
	Kind       string    `json:"kind"`  // first, reminder, escalation, reappeared, forward
	Level      string    `json:"level"` // hoster, cdn, upstream, registrar, authority, partner
	Channel    string    `json:"channel"`
	To         string    `json:"to"` // e-mail address, webhook URL or NATS subject
	Partner    string    `json:"partner,omitempty"`
	Lang       string    `json:"lang"`
	State      string    `json:"state"`
	Priority   bool      `json:"priority,omitempty"`
	OpenedAt   time.Time `json:"opened_at"`
	DueAt      time.Time `json:"due_at"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	DeadlineAt time.Time `json:"deadline_at,omitzero"`
	Cases      []string  `json:"cases"`
	Items      []Item    `json:"items,omitempty"` // fixed when sealed
	Dropped    []string  `json:"dropped,omitempty"`
	MessageID  string    `json:"message_id,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Outcome    string    `json:"outcome,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	Reminder   int       `json:"reminder,omitempty"`
	PrevRef    string    `json:"prev_ref,omitempty"`
	DoneAt     time.Time `json:"done_at,omitzero"`
}

// Item is one URL of a sealed notice.
type Item struct {
	CaseID         string          `json:"case_id"`
	URL            string          `json:"url"`
	IPs            []string        `json:"ips,omitempty"`
	ConfirmedAt    time.Time       `json:"confirmed_at"`
	Classification string          `json:"classification"`
	MediaType      string          `json:"media_type,omitempty"`
	Hashes         takedown.Hashes `json:"hashes,omitzero"`
	ReportIDs      []string        `json:"report_ids,omitempty"`
	FirstNoticedAt time.Time       `json:"first_noticed_at,omitzero"`
	Reappeared     bool            `json:"reappeared,omitempty"`
}

// records is the notices bucket and the pointer from each contact to its
// open batch.
type records struct {
	notices jetstream.KeyValue
	batches jetstream.KeyValue
}

var errNoRecord = errors.New("notice not found")

func (r records) get(ctx context.Context, ref string) (Record, uint64, error) {
	e, err := r.notices.Get(ctx, ref)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, 0, fmt.Errorf("notice %s: %w", ref, errNoRecord)
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("get notice %s: %w", ref, err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Record{}, 0, fmt.Errorf("decode notice %s: %w", ref, err)
	}
	return rec, e.Revision(), nil
}

func (r records) create(ctx context.Context, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode notice %s: %w", rec.Ref, err)
	}
	if _, err := r.notices.Create(ctx, rec.Ref, b); err != nil {
		return fmt.Errorf("create notice %s: %w", rec.Ref, err)
	}
	return nil
}

// update applies fn to the record by compare-and-set, retrying conflicts.
// fn returning errUnchanged leaves the record as it is.
func (r records) update(ctx context.Context, ref string, fn func(*Record) error) (Record, error) {
	for range 20 {
		rec, rev, err := r.get(ctx, ref)
		if err != nil {
			return rec, err
		}
		if err := fn(&rec); err != nil {
			return rec, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return rec, fmt.Errorf("encode notice %s: %w", ref, err)
		}
		if _, err := r.notices.Update(ctx, ref, b, rev); err != nil {
			var apiErr *jetstream.APIError
			if errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
				continue
			}
			return rec, fmt.Errorf("update notice %s: %w", ref, err)
		}
		return rec, nil
	}
	return Record{}, fmt.Errorf("update notice %s: too many conflicts", ref)
}

var errUnchanged = errors.New("unchanged")

// crockford is Crockford's base32 alphabet, which reads unambiguously
// over the phone: hosters quote references back to us.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newRef returns a fresh notice reference such as TD-20261126-7F3K2Q.
func newRef(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(crockford[c&31])
	}
	return "TD-" + now.UTC().Format("20060102") + "-" + sb.String()
}
