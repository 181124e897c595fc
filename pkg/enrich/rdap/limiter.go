package rdap

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is the politeness budget for one RDAP server.
type Limit struct {
	// PerMinute is the sustained query rate.
	PerMinute float64
	// Burst is how many queries may go at once after a quiet spell.
	Burst int
}

// DefaultLimits respects the limits registries publish: LACNIC allows 10
// queries a minute; RIPE limits personal-data lookups (ours are not, but we
// stay modest).
func DefaultLimits() map[string]Limit {
	return map[string]Limit{
		"rdap.lacnic.net":  {PerMinute: 10, Burst: 2},
		"rdap.db.ripe.net": {PerMinute: 300, Burst: 10},
	}
}

// Limiter paces the requests to each RDAP server host. A server's budget
// is the server's, not ours: every replica of the daemon (and the next
// process after a restart) must draw on the same one, which is what
// SharedLimiter does; the default, when Config.Limiter is nil, keeps it
// in this process.
type Limiter interface {
	// Wait blocks until host may be asked once more under l, and takes
	// that turn.
	Wait(ctx context.Context, host string, l Limit) error
	// Block keeps every caller from asking host before until, as a 429's
	// or 503's Retry-After asks.
	Block(ctx context.Context, host string, until time.Time) error
}

var (
	_ Limiter = (*localLimiter)(nil)
	_ Limiter = (*SharedLimiter)(nil)
)

// localLimiter is a token bucket per host in this process.
type localLimiter struct {
	now   func() time.Time
	mu    sync.Mutex
	gates map[string]*gate
}

func newLocalLimiter(now func() time.Time) *localLimiter {
	return &localLimiter{now: now, gates: make(map[string]*gate)}
}

// gate is the politeness state of one server: a token bucket and the time
// before which a 429 told us not to come back.
type gate struct {
	mu    sync.Mutex
	lim   *rate.Limiter // made by the first Wait
	until time.Time
}

func (l *localLimiter) gate(host string) *gate {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, ok := l.gates[host]
	if !ok {
		g = &gate{}
		l.gates[host] = g
	}
	return g
}

func (l *localLimiter) Wait(ctx context.Context, host string, lim Limit) error {
	g := l.gate(host)
	for {
		g.mu.Lock()
		if g.lim == nil {
			g.lim = rate.NewLimiter(rate.Limit(lim.PerMinute/60), max(lim.Burst, 1))
		}
		pause := g.until.Sub(l.now())
		tokens := g.lim
		g.mu.Unlock()
		if pause <= 0 {
			return tokens.Wait(ctx)
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
	}
}

func (l *localLimiter) Block(_ context.Context, host string, until time.Time) error {
	g := l.gate(host)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
