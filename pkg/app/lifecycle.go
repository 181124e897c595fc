package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

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
