package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Run serves until ctx ends or a part fails the daemon, then stops every
// part within shutdown_timeout (see stop). A part that fails is restarted
// or fails the daemon by the rule in lifecycle.go.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		failed []error // what failed the daemon
		during []error // what parts returned while stopping
	)
	fatal := func(err error) {
		mu.Lock()
		failed = append(failed, err)
		mu.Unlock()
		cancel()
	}
	srv := a.httpServer()
	parts := append(a.parts[:len(a.parts):len(a.parts)], &part{name: "api", onFailure: failDaemon, r: runFunc(func(context.Context) error {
		if err := srv.Serve(a.apiLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})})
	done := make(map[*part]chan struct{}, len(parts))
	for _, p := range parts {
		stopped := make(chan struct{})
		done[p] = stopped
		go func() {
			defer close(stopped)
			if err := a.supervise(ctx, p, fatal); err != nil {
				mu.Lock()
				during = append(during, err)
				mu.Unlock()
			}
		}()
	}
	a.log.Info("takedownd running", "api", a.APIAddr(), "nats", a.NATSURL())
	<-ctx.Done()
	stopErr := a.stop(srv, parts, done)
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(append(append(failed, during...), stopErr)...)
}

// stop ends every part under one deadline, shutdown_timeout from now, as
// named steps whose errors are joined:
//
//  1. the API stops taking requests and finishes those in flight;
//  2. the parts drain (they saw ctx end): work not yet started goes back
//     to JetStream at once, work in hand is finished — until the cleanup
//     reserve before the deadline, when it is abandoned (not acked, so it
//     is redelivered after its ack wait) and the parts still running are
//     left behind;
//  3. the cleanups run, newest first, NATS last, with what remains.
func (a *App) stop(srv *http.Server, parts []*part, done map[*part]chan struct{}) error {
	bound, start := a.cfg.ShutdownTimeout, time.Now()
	deadline := start.Add(bound)
	reserve := min(bound/4, 5*time.Second)
	a.log.Info("takedownd stopping", "shutdown_timeout", bound)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	abandonAt := deadline.Add(-reserve)
	abandon := time.AfterFunc(time.Until(abandonAt), func() {
		a.log.Warn("shutdown bound near: abandoning work in hand to redelivery")
		a.store.AbandonWork()
	})
	defer abandon.Stop()

	var errs []error
	apiCtx, apiCancel := context.WithDeadline(ctx, abandonAt)
	if err := srv.Shutdown(apiCtx); err != nil {
		errs = append(errs, fmt.Errorf("stop api: %w", err))
		_ = srv.Close()
	}
	apiCancel()

	// Parts get until half the reserve is left; abandoned handlers return
	// at once, so only a part that ignores its context is still running.
	partsCtx, partsCancel := context.WithDeadline(ctx, deadline.Add(-reserve/2))
	defer partsCancel()
	for _, p := range parts {
		select {
		case <-done[p]:
		case <-partsCtx.Done():
			errs = append(errs, fmt.Errorf("stop %s: still running at the shutdown bound (%s)", p.name, bound))
		}
	}
	errs = append(errs, a.cleanup.run(ctx, a.log))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.log.Debug("stopped within the bound", "took", time.Since(start))
	return nil
}

// httpServer is the status API's server, with every timeout set so that
// slow or idle clients cannot hold its connections.
func (a *App) httpServer() *http.Server {
	c := a.cfg.API
	return &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// ready is the answer of /readyz: NATS connected, no part waiting to
// restart, and the store's checks (streams, consumers, case index, a
// committed write).
func (a *App) ready(ctx context.Context) error {
	var reasons []string
	if !a.broker.Ready() {
		reasons = append(reasons, "nats not connected")
	}
	for _, p := range a.parts {
		if err := p.downErr(); err != nil {
			reasons = append(reasons, fmt.Sprintf("%s is restarting after: %v", p.name, err))
		}
	}
	if err := a.store.Ready(ctx); err != nil {
		reasons = append(reasons, err.Error())
	}
	if len(reasons) > 0 {
		return errors.New(strings.Join(reasons, "; "))
	}
	return nil
}
