package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoChange is returned by an update function to say the record is
// already as it should be: nothing is written. It is the one "no change"
// signal of every compare-and-set in takedownd.
var ErrNoChange = errors.New("no change")

// ErrConflict is returned by an attempt given to RetryConflicts when
// another writer came first; the attempt then runs again after a pause.
var ErrConflict = errors.New("compare-and-set conflict")

// ErrTooManyConflicts is returned by RetryConflicts when every attempt
// lost; it is not a conflict itself (IsConflict is false).
var ErrTooManyConflicts = fmt.Errorf("%d compare-and-set conflicts in a row", casAttempts)

// The pause between compare-and-set attempts doubles from casFirstPause to
// casMaxPause, with jitter, for at most casAttempts attempts. Conflicts come
// from stages touching one record at once (32 route workers filling one
// notice, a re-check racing a bounce); retrying at once only makes the
// writers collide again, and a pause spreads them out. The bound is well
// over a second of pauses, so giving up means something is wrong, not busy.
const (
	casAttempts   = 25
	casFirstPause = 2 * time.Millisecond
	casMaxPause   = 250 * time.Millisecond
)

// IsConflict reports whether err is a lost compare-and-set: the record
// changed since it was read (or, for a create, exists). Replicated
// streams report it with another error code than single-replica ones.
func IsConflict(err error) bool {
	if errors.Is(err, ErrConflict) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// RetryConflicts runs attempt until it returns anything but a conflict
// (see IsConflict), pausing between attempts with capped exponential
// backoff and jitter. what names the record in the error of the last
// attempt ("update case 0123…").
func RetryConflicts(ctx context.Context, what string, attempt func() error) error {
	pause := casFirstPause
	for n := 1; ; n++ {
		err := attempt()
		if !IsConflict(err) {
			return err
		}
		if n == casAttempts {
			// Not wrapped: an enclosing RetryConflicts must not start over.
			return fmt.Errorf("%s: %w", what, ErrTooManyConflicts)
		}
		// Equal jitter: at least half the pause, so writers that collided
		// do not come back in step.
		wait := pause/2 + rand.N(pause/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, casMaxPause)
	}
}

// Entry is a record as Bucket.Update left it.
type Entry[T any] struct {
	Value    T
	Revision uint64
	// Changed is false when the update function returned ErrNoChange:
	// Value is then the record as read, which is its latest revision.
	Changed bool
}

// Bucket is a KV bucket of JSON records of type T that change only by
// compare-and-set. Its reads go to the stream leader (see leaderReads), so
// a record read for a decision shows every write acknowledged before the
// read, on one node and on a cluster.
type Bucket[T any] struct {
	kv   jetstream.KeyValue
	what string
	s    *Store // for Create (createKey)
}

// OpenBucket creates or updates a bucket of records (safe on every start
// and from every replica at once) and binds it. what names a record in
// errors ("notice").
func OpenBucket[T any](ctx context.Context, s *Store, cfg jetstream.KeyValueConfig, what string) (*Bucket[T], error) {
	kv, err := s.EnsureKV(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Bucket[T]{kv: kv, what: what, s: s}, nil
}

// BindBucket binds a bucket of records that another stage creates, with
// the same read-your-writes guarantee. The bucket must exist.
func BindBucket[T any](ctx context.Context, s *Store, bucket, what string) (*Bucket[T], error) {
	var kv jetstream.KeyValue
	err := s.opts.Retry.Do(ctx, "bind kv "+bucket, func(ctx context.Context) error {
		var err error
		kv, err = s.leaderReads(ctx, bucket)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Bucket[T]{kv: kv, what: what, s: s}, nil
}

// KV is the bucket itself, for watches and deletes.
func (b *Bucket[T]) KV() jetstream.KeyValue { return b.kv }

// Get returns the record under key and its revision; ErrNotFound when
// there is none.
func (b *Bucket[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	var v T
	e, err := b.entry(ctx, key)
	if err != nil {
		return v, 0, err
	}
	err = b.decode(e, &v)
	return v, e.Revision(), err
}

func (b *Bucket[T]) entry(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, fmt.Errorf("%s %s: %w", b.what, trimKey(key), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", b.what, trimKey(key), err)
	}
	return e, nil
}

func (b *Bucket[T]) decode(e jetstream.KeyValueEntry, v *T) error {
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return fmt.Errorf("decode %s %s: %w", b.what, trimKey(e.Key()), err)
	}
	return nil
}

// Create stores a new record. It returns an error that matches
// jetstream.ErrKeyExists when the key is taken.
func (b *Bucket[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s %s: %w", b.what, trimKey(key), err)
	}
	rev, _, err := b.s.createKey(ctx, b.kv, key, body)
	if err != nil {
		return 0, fmt.Errorf("create %s %s: %w", b.what, trimKey(key), err)
	}
	return rev, nil
}

// Update reads the record, applies fn to it and writes it back if nobody
// wrote in between, else reads and applies fn again (RetryConflicts). fn
// may therefore run more than once and must change nothing but the
// record. fn returning ErrNoChange writes nothing, and Update returns the
// record as read (whatever fn did to it); any other error stops the update
// and is returned as is. ErrNotFound when there is no record.
func (b *Bucket[T]) Update(ctx context.Context, key string, fn func(*T) error) (Entry[T], error) {
	var out Entry[T]
	err := RetryConflicts(ctx, "update "+b.what+" "+trimKey(key), func() error {
		e, err := b.entry(ctx, key)
		if err != nil {
			return err
		}
		var v T
		if err := b.decode(e, &v); err != nil {
			return err
		}
		switch err := fn(&v); {
		case errors.Is(err, ErrNoChange):
			out = Entry[T]{Revision: e.Revision()}
			return b.decode(e, &out.Value)
		case err != nil:
			return err
		}
		rev, err := b.put(ctx, key, v, e.Revision())
		if err != nil {
			return err
		}
		out = Entry[T]{Value: v, Revision: rev, Changed: true}
		return nil
	})
	return out, err
}

// PutOver writes v over revision rev: a compare-and-set that fails with a
// conflict (IsConflict) when somebody wrote in between.
func (b *Bucket[T]) PutOver(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	return b.put(ctx, key, v, rev)
}

// put writes v over revision rev.
func (b *Bucket[T]) put(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s %s: %w", b.what, trimKey(key), err)
	}
	rev, err = b.kv.Update(ctx, key, body, rev)
	if err != nil {
		return 0, fmt.Errorf("update %s %s: %w", b.what, trimKey(key), err)
	}
	return rev, nil
}
