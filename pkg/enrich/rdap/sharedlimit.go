package rdap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
)

// SharedLimiter keeps each server's token bucket, and the time before
// which a server told us not to come back, in one JetStream KV record per
// server, so that every replica (and the next process after a restart)
// draws on one budget. A turn is taken by compare-and-set on the record:
// two replicas reading the same state cannot both take its last token, as
// the second write fails and reads again. The bucket's reads go to the
// stream leader (store.Bucket), so a replica does not keep reading a
// follower's stale state; and since every decision is a compare-and-set at
// the leader, even a stale read could not make one wrong.
//
// The record is counted in the replicas' clocks, which NTP keeps close:
// refills telescope from one write's clock to the next reader's, so clocks
// δ apart let at most δ's worth of tokens through early, never a higher
// sustained rate (a reader behind the last writer adds nothing until it
// catches up).
type SharedLimiter struct {
	b   *store.Bucket[gateState]
	now func() time.Time

	// turns lets one goroutine per host in this process contend for the
	// record at a time; the others queue here instead of piling
	// conflicting writes on the leader.
	mu    sync.Mutex
	turns map[string]chan struct{}
}

// gateState is one server's record.
type gateState struct {
	// Tokens is what the bucket held at At.
	Tokens float64   `json:"tokens"`
	At     time.Time `json:"at"`
	// Until is the end of the last Retry-After: nobody asks before it.
	Until time.Time `json:"until,omitzero"`
}

// LimiterBucketTTL is how long a server's record outlives its last use. A
// record that expired is a full bucket, which an idle server's is anyway
// long before then.
const LimiterBucketTTL = 24 * time.Hour

// LimiterBucketConfig returns the configuration of the limiter's bucket.
func LimiterBucketConfig(name string) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: name, TTL: LimiterBucketTTL,
		Description: "RDAP politeness shared by replicas: a token bucket and a Retry-After per server"}
}

// OpenSharedLimiter creates or binds the limiter's bucket.
func OpenSharedLimiter(ctx context.Context, st *store.Store, bucket string, now func() time.Time) (*SharedLimiter, error) {
	b, err := store.OpenBucket[gateState](ctx, st, LimiterBucketConfig(bucket), "rdap rate limit")
	if err != nil {
		return nil, fmt.Errorf("open rdap limiter: %w", err)
	}
	return &SharedLimiter{b: b, now: now, turns: make(map[string]chan struct{})}, nil
}

// Wait takes a turn at host, waiting as long as the shared bucket or a
// Retry-After says.
func (s *SharedLimiter) Wait(ctx context.Context, host string, l Limit) error {
	release, err := s.queue(ctx, host)
	if err != nil {
		return err
	}
	defer release()
	key := limiterKey(host)
	for {
		var wait time.Duration
		e, err := s.b.Update(ctx, key, func(g *gateState) error {
			if wait = g.take(s.now(), l); wait > 0 {
				return store.ErrNoChange
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			var g gateState
			if wait = g.take(s.now(), l); wait == 0 {
				e.Value = g
				e.Revision, err = s.b.Create(ctx, key, g)
				if store.IsConflict(err) {
					continue // another replica made the record first
				}
			}
		}
		if err != nil {
			return fmt.Errorf("take rdap turn at %s: %w", host, err)
		}
		if wait == 0 {
			s.settle(ctx, key, e.Value, e.Revision)
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// lateTurn is how long writing a turn may take before settle moves the
// turn to the time the request really leaves.
const lateTurn = 100 * time.Millisecond

// settle keeps the latency of the turn's own write out of the budget. A
// turn is counted at the time it was decided, but the request leaves only
// once the write is back, and the server counts arrivals: when the write
// took long (a busy JetStream), the next taker would count the write's
// time as refill, and its request would arrive right behind this one — two
// turns the bucket spaced apart, bunched at the server. So a late turn is
// moved to now, forfeiting that refill. If another taker wrote meanwhile,
// the compare-and-set fails and nothing changes: that taker's turn was
// counted later still.
func (s *SharedLimiter) settle(ctx context.Context, key string, g gateState, rev uint64) {
	now := s.now()
	if now.Sub(g.At) < lateTurn {
		return
	}
	g.At = now
	_, _ = s.b.PutOver(ctx, key, g, rev)
}

// Block records that nobody may ask host before until.
func (s *SharedLimiter) Block(ctx context.Context, host string, until time.Time) error {
	key := limiterKey(host)
	for {
		_, err := s.b.Update(ctx, key, func(g *gateState) error {
			if !until.After(g.Until) {
				return store.ErrNoChange
			}
			g.Until = until
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			_, err = s.b.Create(ctx, key, gateState{Until: until})
			if store.IsConflict(err) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("block rdap server %s: %w", host, err)
		}
		return nil
	}
}

// queue waits for this process's turn to contend for host's record.
func (s *SharedLimiter) queue(ctx context.Context, host string) (func(), error) {
	s.mu.Lock()
	ch, ok := s.turns[host]
	if !ok {
		ch = make(chan struct{}, 1)
		s.turns[host] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take takes one token at now, or returns how long until one is free
// (leaving g as it was: the caller writes nothing then).
func (g *gateState) take(now time.Time, l Limit) time.Duration {
	if now.Before(g.Until) {
		return g.Until.Sub(now)
	}
	perSecond := l.PerMinute / 60
	burst := float64(max(l.Burst, 1))
	if perSecond <= 0 {
		perSecond = 1.0 / 60
	}
	switch {
	case g.At.IsZero():
		g.Tokens, g.At = burst, now
	case now.After(g.At):
		g.Tokens = min(burst, g.Tokens+now.Sub(g.At).Seconds()*perSecond)
		g.At = now
	}
	if g.Tokens >= 1 {
		g.Tokens--
		return 0
	}
	// Rounded up, so the next look finds the token there.
	return time.Duration((1-g.Tokens)/perSecond*float64(time.Second)) + time.Millisecond
}

// limiterKey is the record's key: the host with what a KV key cannot hold
// (a port's colon) replaced.
func limiterKey(host string) string {
	return "host." + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, host)
}
