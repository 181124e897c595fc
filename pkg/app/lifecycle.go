package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// How the daemon treats a part that fails while it runs — the one rule,
// applied by supervise:
//
//   - A part that needs nothing but NATS (intake, enrichment, notify,
//     re-checks, the case index, the reload and drop-directory loops) is
//     restarted with capped exponential backoff and jitter (restartMin
//     doubling up to restartMax), because NATS comes back and so does the
//     part. Each failure is logged at error level with the wait before the
//     next start, and until the part runs again /readyz answers 503 naming
//     it. A part that ran longer than restartMax starts from restartMin.
//   - A part that owns a listening socket (the status API, the inbound
//     SMTP listener) fails the daemon at once: its socket went with it.
//     The daemon stops everything and exits non-zero, and the service
//     manager starts it again (Restart=on-failure in the systemd unit).
//   - A part that returns nil while the daemon runs has failed too: no
//     part stops silently.
//   - Once the stop began, an error that is the stop itself
//     (context.Canceled) is a clean stop; any other is reported.
type onFailure int

const (
	restartPart onFailure = iota
	failDaemon
)

// The bounds of a part's restart backoff.
const (
	restartMin = 500 * time.Millisecond
	restartMax = 30 * time.Second
)

// part is a long-running part of the daemon with its failure rule.
type part struct {
	name      string
	r         Runner
	onFailure onFailure

	mu   sync.Mutex
	down error // why it is waiting to restart; nil while it runs
}

func (p *part) setDown(err error) {
	p.mu.Lock()
	p.down = err
	p.mu.Unlock()
}

func (p *part) downErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// supervise runs a part until ctx ends, applying the failure rule above.
// fatal stops the daemon with an error. It returns an error the part
// returned during the stop.
func (a *App) supervise(ctx context.Context, p *part, fatal func(error)) error {
	wait := restartMin
	for {
		started := time.Now()
		err := p.r.Run(ctx)
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			return nil
		}
		if err == nil {
			err = errors.New("stopped while the daemon runs")
		}
		if p.onFailure == failDaemon {
			a.log.Error("part failed: stopping the daemon", "part", p.name, "err", err)
			fatal(fmt.Errorf("%s: %w", p.name, err))
			return nil
		}
		if time.Since(started) > restartMax {
			wait = restartMin
		}
		delay := jitter(wait)
		wait = min(2*wait, restartMax)
		p.setDown(err)
		a.log.Error("part failed, restarting", "part", p.name, "retry_in", delay.Round(time.Millisecond), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		p.setDown(nil)
		a.log.Info("part restarting", "part", p.name)
	}
}

// jitter spreads d over [d/2, d], so replicas that lost NATS together do
// not come back in step.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// cleanups are named shutdown steps run in reverse order of creation, so
// that what was opened first (NATS) is closed last.
type cleanups struct {
	mu    sync.Mutex
	steps []cleanupStep
}

type cleanupStep struct {
	name string
	fn   func() error
}

func (c *cleanups) add(name string, fn func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, cleanupStep{name, fn})
}

// run executes each step once, newest first, and joins their errors. A
// step that outlives ctx is abandoned (reported) so shutdown stays bounded.
func (c *cleanups) run(ctx context.Context, log *slog.Logger) error {
	c.mu.Lock()
	steps := slices.Clone(c.steps)
	c.steps = nil
	c.mu.Unlock()
	var errs []error
	for _, s := range slices.Backward(steps) {
		done := make(chan error, 1)
		go func() { done <- s.fn() }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("stop %s: %w", s.name, ctx.Err()))
		}
		log.Debug("stopped", "part", s.name)
	}
	return errors.Join(errs...)
}
