package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// HealthBucket holds one key per replica that every readiness check
// writes: a replica whose writes do not commit (a cluster that lost its
// quorum, a full disk) is not ready, even while reads still answer.
const HealthBucket = "takedown_health"

// readyCacheFor is how long one readiness answer is kept, so that probes
// every few hundred milliseconds from several places cost one check.
const readyCacheFor = time.Second

// defaultFollowGrace is how long the case index may stay behind the cases
// bucket before readiness says it has stopped following.
const defaultFollowGrace = 10 * time.Second

// health is the state of the readiness check.
type health struct {
	kv  jetstream.KeyValue
	key string
	// followGrace is defaultFollowGrace; tests shorten it.
	followGrace time.Duration

	mu  sync.Mutex // one check at a time; the others wait for its answer
	at  time.Time
	err error
	// lagTarget is a last sequence of the cases bucket the index had not
	// reached when it was seen, at lagSince.
	lagTarget uint64
	lagSince  time.Time
}

func (s *Store) openHealth(ctx context.Context) error {
	kv, err := s.EnsureKV(ctx, jetstream.KeyValueConfig{
		Bucket:      HealthBucket,
		Description: "takedownd readiness: each replica's last committed probe write",
		History:     1,
		// Keys of replicas that are gone expire; the bucket stays tiny.
		TTL:      10 * time.Minute,
		MaxBytes: 1 << 20,
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	s.health.kv, s.health.key = kv, "replica."+hex.EncodeToString(id)
	s.health.followGrace = defaultFollowGrace
	return nil
}

// Ready reports whether this replica can do its work: the streams answer,
// every consumer the stages ensured exists, the case index follows the
// cases bucket, and a write commits within Options.ReadyTimeout. The error
// names every reason that fails. An answer is kept for a second.
func (s *Store) Ready(ctx context.Context) error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.at.IsZero() && time.Since(h.at) < readyCacheFor {
		return h.err
	}
	timeout := s.opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu      sync.Mutex
		reasons []string
		wg      sync.WaitGroup
	)
	check := func(fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				mu.Lock()
				reasons = append(reasons, err.Error())
				mu.Unlock()
			}
		})
	}
	check(func(ctx context.Context) error { return s.commitProbe(ctx, timeout) })
	check(s.streamsAnswer)
	check(s.indexFollows)
	check(s.storageRoom)
	s.consumersMu.Lock()
	consumers := slices.Clone(s.consumers)
	s.consumersMu.Unlock()
	for _, c := range consumers {
		check(c.exists)
	}
	wg.Wait()
	h.at, h.err = time.Now(), nil
	if len(reasons) > 0 {
		slices.Sort(reasons)
		h.err = errors.New(strings.Join(reasons, "; "))
	}
	return h.err
}

// commitProbe writes this replica's health key and waits for the commit.
func (s *Store) commitProbe(ctx context.Context, bound time.Duration) error {
	if _, err := s.health.kv.Put(ctx, s.health.key, []byte(s.now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("a write was not committed within %s: %w", bound, err)
	}
	return nil
}

func (s *Store) streamsAnswer(ctx context.Context) error {
	for _, name := range []string{EventsStream, WorkStream, DLQStream} {
		if _, err := s.js.Stream(ctx, name); err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
	}
	return nil
}

// exists reports a consumer that is gone, or that the server cannot say.
func (c *Consumer) exists(ctx context.Context) error {
	_, err := c.store.js.Consumer(ctx, c.stream, c.cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("consumer %s is missing", c.cfg.Durable)
	}
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.cfg.Durable, err)
	}
	return nil
}

// indexFollows reports a case index whose watch is not running, or that
// has stayed behind the bucket's last revision for longer than the grace.
func (s *Store) indexFollows(ctx context.Context) error {
	if !s.index.following.Load() {
		return errors.New("case index is not following " + CasesBucket)
	}
	st, err := s.cases.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", CasesBucket, err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil
	}
	last, rev := bs.StreamInfo().State.LastSeq, s.index.rev.Load()
	h := &s.health
	now := time.Now()
	switch {
	case rev >= last:
		h.lagTarget = 0
	case h.lagTarget == 0 || rev >= h.lagTarget:
		h.lagTarget, h.lagSince = last, now
	case now.Sub(h.lagSince) > h.followGrace:
		return fmt.Errorf("case index has stopped following %s: at revision %d, %d expected for %s", CasesBucket, rev, h.lagTarget, now.Sub(h.lagSince).Round(time.Second))
	}
	return nil
}
