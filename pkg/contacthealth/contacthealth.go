// Package contacthealth remembers, for every case and every replica, the
// abuse addresses that bounced for good: a KV bucket of records keyed by
// address, each expiring a while after its last bounce (the bucket's TTL).
// Routing skips a failing address for new cases and tries it again once
// the mark has expired; inbound marks an address when a verified bounce
// says it is gone (takedown.DeliveryRules) and drops the mark when a
// person replies from it. The record is the domain's
// (takedown.ContactHealth); this package only keeps it.
package contacthealth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Bucket is the KV bucket of contact-health records.
const Bucket = "takedown_contact_health"

// Book is the contact-health bucket. It is safe for concurrent use.
type Book struct {
	records *store.Bucket[takedown.ContactHealth]
	now     func() time.Time
}

// Open creates or updates the bucket (safe on every start, from every
// replica and from both stages that use it) with ttl as the time a mark
// lasts after its last bounce. Its reads go to the stream leader: routing
// decides on them.
func Open(ctx context.Context, st *store.Store, ttl time.Duration) (*Book, error) {
	b, err := store.OpenBucket[takedown.ContactHealth](ctx, st, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "takedownd abuse addresses that bounced for good, by address; a mark expires ttl after its last bounce",
		History: 1, TTL: ttl, Storage: jetstream.FileStorage,
	}, "contact health")
	if err != nil {
		return nil, fmt.Errorf("open contact health: %w", err)
	}
	return &Book{records: b, now: st.Now}, nil
}

// Key is the bucket key of an address: the address in lower case with
// every byte outside a-z, 0-9, '-' and '_' written as =XX, so that any
// address is a valid key and the operator can still read it
// (abuse=40hoster-a=2Enl).
func Key(addr string) string {
	var b strings.Builder
	for _, c := range []byte(strings.ToLower(strings.TrimSpace(addr))) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// Mark records a bounce that says addr is gone for good, renewing the
// mark's expiry. h carries the why (reason, status, notice, case); the
// counts and times are the book's.
func (b *Book) Mark(ctx context.Context, addr string, h takedown.ContactHealth) error {
	key := Key(addr)
	if key == "" {
		return nil
	}
	now := b.now().UTC()
	h.Address, h.Last = strings.ToLower(addr), now
	_, err := b.records.Update(ctx, key, func(r *takedown.ContactHealth) error {
		h.Since, h.Bounces = r.Since, r.Bounces+1
		*r = h
		return nil
	})
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	h.Since, h.Bounces = now, 1
	_, err = b.records.Create(ctx, key, h)
	if store.IsConflict(err) {
		// Another replica marked it at the same moment: count ours too.
		return b.Mark(ctx, addr, h)
	}
	return err
}

// Failing returns those of addrs that are marked failing, in lower case.
func (b *Book) Failing(ctx context.Context, addrs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		_, _, err := b.records.Get(ctx, Key(a))
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("contact health of %s: %w", a, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Clear drops the mark of addr, if it has one: the address works again
// (a person replied from it). It reports whether there was a mark.
func (b *Book) Clear(ctx context.Context, addr string) (bool, error) {
	key := Key(addr)
	if key == "" {
		return false, nil
	}
	_, _, err := b.records.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if err := b.records.KV().Delete(ctx, key); err != nil {
		return false, fmt.Errorf("clear contact health of %s: %w", strings.ToLower(addr), err)
	}
	return true, nil
}
