package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
)

// LeaseBucket holds the reconciler's lease: which replica passes, and the
// result of its last pass, which every replica shows.
const LeaseBucket = "takedown_reconcile"

const leaseKey = "lease"

// leaseRecord is the lease as the bucket holds it.
type leaseRecord struct {
	Holder  string    `json:"holder"`
	Since   time.Time `json:"since"`
	Renewed time.Time `json:"renewed"`
	Last    *Result   `json:"last,omitempty"`
}

// leaseTTL is how long a lease lasts without being renewed: two intervals
// and a pass's confirm time, so a live holder (which renews every
// interval) keeps it and a dead one loses it soon after.
func leaseTTL(interval, confirm time.Duration) time.Duration {
	return 2*interval + confirm + time.Minute
}

// lease is one replica's view of the lease.
type lease struct {
	kv     jetstream.KeyValue
	holder string
	now    func() time.Time
	// rev is the revision of the lease this replica wrote last; 0 while
	// it does not hold it.
	rev   uint64
	since time.Time
}

func openLease(ctx context.Context, st *store.Store, holder string, ttl time.Duration, now func() time.Time) (*lease, error) {
	kv, err := st.EnsureKV(ctx, jetstream.KeyValueConfig{
		Bucket: LeaseBucket, Description: "takedownd reconciler: the replica that passes, and its last result",
		History: 1, TTL: ttl, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open reconcile lease: %w", err)
	}
	return &lease{kv: kv, holder: holder, now: now}, nil
}

// hold takes or renews the lease. It reports whether this replica holds
// it and, when another does, that one's last result.
func (l *lease) hold(ctx context.Context) (bool, *Result, error) {
	now := l.now().UTC()
	e, err := l.kv.Get(ctx, leaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		rec := leaseRecord{Holder: l.holder, Since: now, Renewed: now}
		b, _ := json.Marshal(rec)
		rev, err := l.kv.Create(ctx, leaseKey, b)
		if store.IsConflict(err) {
			return false, nil, nil // another replica took it first
		}
		if err != nil {
			return false, nil, fmt.Errorf("take reconcile lease: %w", err)
		}
		l.rev, l.since = rev, now
		return true, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("read reconcile lease: %w", err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return false, nil, fmt.Errorf("decode reconcile lease: %w", err)
	}
	if rec.Holder != l.holder {
		l.rev = 0
		return false, rec.Last, nil
	}
	rec.Renewed = now
	b, _ := json.Marshal(rec)
	rev, err := l.kv.Update(ctx, leaseKey, b, e.Revision())
	if store.IsConflict(err) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("renew reconcile lease: %w", err)
	}
	l.rev, l.since = rev, rec.Since
	return true, rec.Last, nil
}

// record writes the result of a pass into the lease, if this replica
// still holds it.
func (l *lease) record(ctx context.Context, res Result) error {
	if l.rev == 0 {
		return nil
	}
	now := l.now().UTC()
	b, _ := json.Marshal(leaseRecord{Holder: l.holder, Since: l.since, Renewed: now, Last: &res})
	rev, err := l.kv.Update(ctx, leaseKey, b, l.rev)
	if store.IsConflict(err) {
		l.rev = 0 // lost it meanwhile (expired, and another took it)
		return nil
	}
	if err != nil {
		return fmt.Errorf("record reconcile pass: %w", err)
	}
	l.rev = rev
	return nil
}

// release gives the lease up on the way out, so another replica passes at
// its next tick instead of waiting for the lease to expire.
func (l *lease) release(ctx context.Context) {
	if l.rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(l.rev))
	l.rev = 0
}
