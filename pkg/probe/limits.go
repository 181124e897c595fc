package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// hostLimits caps, per host name, how many requests are in flight and how
// fast they start. Hosts seen once are forgotten again once their token
// bucket would have refilled, so a daemon probing millions of hosts over
// weeks does not keep one limiter per host forever, and a host probed again
// soon still finds its bucket as it left it.
type hostLimits struct {
	perHost int
	every   rate.Limit
	burst   int
	now     func() time.Time

	mu     sync.Mutex
	hosts  map[string]*hostLimit
	sweeps int
}

type hostLimit struct {
	sem     chan struct{}
	limiter *rate.Limiter
	refs    int
}

// errLimitWait marks a probe that never left the building: our own
// per-host limits held it until its context ended. The material was not
// looked at, so the caller should simply try again soon.
var errLimitWait = errors.New("local per-host limit")

// sweepEvery is how many acquisitions pass between sweeps of idle hosts:
// often enough to bound the map, rare enough to cost nothing per probe.
const sweepEvery = 4096

func newHostLimits(perHost int, perSecond float64, burst int, now func() time.Time) *hostLimits {
	every := rate.Inf
	if perSecond > 0 {
		every = rate.Limit(perSecond)
	}
	return &hostLimits{perHost: perHost, every: every, burst: max(burst, 1), now: now, hosts: map[string]*hostLimit{}}
}

// acquire waits for host's rate limit and then for a free slot, and returns
// the function that gives the slot back. Waiting is bounded by ctx only.
func (l *hostLimits) acquire(ctx context.Context, host string) (release func(), err error) {
	h := l.ref(host)
	defer func() {
		if err != nil {
			l.unref(h)
		}
	}()
	if err := l.wait(ctx, h); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for slot on %s: %w: %w", host, errLimitWait, ctx.Err())
	}
	return func() {
		<-h.sem
		l.unref(h)
	}, nil
}

func (l *hostLimits) wait(ctx context.Context, h *hostLimit) error {
	if l.every == rate.Inf {
		return nil
	}
	now := l.now()
	r := h.limiter.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
		r.CancelAt(now)
		return fmt.Errorf("wait for rate limit: %w", errLimitWait)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(l.now())
		return fmt.Errorf("wait for rate limit: %w: %w", errLimitWait, ctx.Err())
	}
}

func (l *hostLimits) ref(host string) *hostLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweeps++
	if l.sweeps >= sweepEvery {
		l.sweeps = 0
		l.sweepLocked()
	}
	h, ok := l.hosts[host]
	if !ok {
		h = &hostLimit{sem: make(chan struct{}, l.perHost), limiter: rate.NewLimiter(l.every, l.burst)}
		l.hosts[host] = h
	}
	h.refs++
	return h
}

func (l *hostLimits) unref(h *hostLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.refs--
}

// sweepLocked drops hosts nobody holds whose bucket is full again, which is
// exactly when a fresh limiter would behave the same.
func (l *hostLimits) sweepLocked() {
	now := l.now()
	for host, h := range l.hosts {
		if h.refs == 0 && (l.every == rate.Inf || h.limiter.TokensAt(now) >= float64(l.burst)) {
			delete(l.hosts, host)
		}
	}
}

// size reports how many hosts are tracked, for tests.
func (l *hostLimits) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
