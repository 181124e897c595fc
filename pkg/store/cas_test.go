package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

type counter struct {
	N    int      `json:"n"`
	Seen []string `json:"seen,omitempty"`
}

func openCounters(t *testing.T) *Bucket[counter] {
	t.Helper()
	st := openStore(t)
	b, err := OpenBucket[counter](t.Context(), st, jetstream.KeyValueConfig{Bucket: "test_counters"}, "counter")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Writers racing on one record all get their change in, once each: the
// lost compare-and-sets are read and applied again, not dropped.
func TestBucketUpdateUnderContention(t *testing.T) {
	t.Parallel()
	b := openCounters(t)
	ctx := t.Context()
	if _, err := b.Create(ctx, "k", counter{}); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	var g errgroup.Group
	for i := range writers {
		g.Go(func() error {
			id := fmt.Sprint(i)
			e, err := b.Update(ctx, "k", func(c *counter) error {
				c.N++
				c.Seen = append(c.Seen, id)
				return nil
			})
			if err == nil && (!e.Changed || e.Revision == 0) {
				err = fmt.Errorf("writer %s: entry %+v not marked as written", id, e)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	got, _, err := b.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.N != writers || len(got.Seen) != writers {
		t.Errorf("n = %d, seen %d writers; want %d each", got.N, len(got.Seen), writers)
	}
}

func TestBucketUpdateOutcomes(t *testing.T) {
	t.Parallel()
	b := openCounters(t)
	ctx := t.Context()
	rev, err := b.Create(ctx, "k", counter{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "k", counter{}); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second create: %v, want ErrKeyExists", err)
	}

	e, err := b.Update(ctx, "k", func(c *counter) error { c.N = 99; return ErrNoChange })
	if err != nil || e.Changed || e.Value.N != 7 || e.Revision != rev {
		t.Errorf("no change: entry %+v, err %v; want the stored record unchanged at revision %d", e, err, rev)
	}

	stop := errors.New("refused")
	if _, err := b.Update(ctx, "k", func(c *counter) error { c.N = 1; return stop }); !errors.Is(err, stop) {
		t.Errorf("refusing update: %v, want the function's error", err)
	}
	if got, _, _ := b.Get(ctx, "k"); got.N != 7 {
		t.Errorf("after refused update n = %d, want 7", got.N)
	}

	if _, err := b.Update(ctx, "missing", func(*counter) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of missing record: %v, want ErrNotFound", err)
	}
	if _, _, err := b.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get of missing record: %v, want ErrNotFound", err)
	}
}

func TestRetryConflictsGivesUp(t *testing.T) {
	t.Parallel()
	calls := 0
	err := RetryConflicts(t.Context(), "update thing", func() error { calls++; return ErrConflict })
	if !errors.Is(err, ErrTooManyConflicts) || IsConflict(err) {
		t.Errorf("err = %v, want ErrTooManyConflicts and no conflict (an outer retry must not start over)", err)
	}
	if calls != casAttempts {
		t.Errorf("%d attempts, want %d", calls, casAttempts)
	}

	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	err = RetryConflicts(ctx, "update thing", func() error { calls++; cancel(); return ErrConflict })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("after cancel: err %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestIsConflict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"single replica", &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}, true},
		// R3 streams answer a lost compare-and-set with another code.
		{"replicated", fmt.Errorf("update: %w", &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}), true},
		{"revision mismatch", fmt.Errorf("x: %w", jetstream.ErrKeyRevisionMismatch), true},
		{"key exists", jetstream.ErrKeyExists, true},
		{"ours", ErrConflict, true},
		{"other api error", &jetstream.APIError{ErrorCode: jetstream.JSErrCodeStreamNotFound}, false},
		{"gave up", ErrTooManyConflicts, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := IsConflict(tt.err); got != tt.want {
			t.Errorf("%s: IsConflict = %v, want %v", tt.name, got, tt.want)
		}
	}
}
