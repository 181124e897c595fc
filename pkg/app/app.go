// Package app wires takedownd together: NATS (embedded or remote), the
// store, every stage and the status API. cmd/takedownd only parses flags
// and calls into it; tests boot the whole daemon in-process with it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/intake"
	"github.com/takedownd/takedownd/pkg/store"
)

// Options are what the embedding program provides.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Runner is a long-running part of the daemon.
type Runner interface {
	Run(ctx context.Context) error
}

// App is a running takedownd.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	broker  *broker.Broker
	store   *store.Store
	api     *api.Server
	apiLn   net.Listener
	runners []namedRunner
	cleanup cleanups
	// onNoticed starts re-checks for a case whose notice went out; the
	// recheck wiring sets it, the notify stage calls it.
	onNoticed func(ctx context.Context, caseID string, at time.Time) error
	resolver  *dns.Resolver // see dnsResolver
	metrics   *prometheus.Registry
}

// runFunc makes a Run method of a plain function.
type runFunc func(ctx context.Context) error

// Run implements Runner.
func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// addRunner registers a long-running part, started by Run.
func (a *App) addRunner(name string, r Runner) {
	a.runners = append(a.runners, namedRunner{name, r})
}

type namedRunner struct {
	name string
	r    Runner
}

// New opens NATS, the store and every stage, and binds the API listener.
// On error everything already opened is closed again.
func New(ctx context.Context, opts Options) (_ *App, err error) {
	cfg := opts.Config
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{cfg: cfg, log: opts.Log, now: opts.Now, metrics: newRegistry()}
	defer func() {
		if err != nil {
			_ = a.cleanup.run(context.Background(), a.log)
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	a.broker, err = broker.Open(ctx, broker.Options{Config: cfg.NATS, DataDir: cfg.DataDir, Name: "takedownd", ReportSubject: cfg.Intake.Subject, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	a.cleanup.add("nats", a.broker.Close)
	retry := broker.Retrier{CallTimeout: cfg.NATS.CallTimeout, Attempts: cfg.NATS.SetupRetries, Backoff: cfg.NATS.SetupBackoff}
	a.store, err = store.Open(ctx, a.broker.JS, store.Options{Replicas: cfg.NATS.Replicas, Retry: retry, Now: opts.Now, Log: opts.Log, Metrics: a.metrics})
	if err != nil {
		return nil, err
	}
	tokens, err := apiTokens(cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	a.api = api.New(a.store, api.Options{
		Tokens: tokens, Ready: a.ready, PageSize: cfg.API.PageSize, MaxPageSize: cfg.API.MaxPageSize,
		Log: opts.Log.With("component", "api"),
	})
	a.api.HandleHTTP("GET /metrics", metricsHandler(a.metrics))
	in, err := intake.New(ctx, cfg.Intake, a.store, retry, opts.Log.With("component", "intake"))
	if err != nil {
		return nil, err
	}
	a.runners = append(a.runners, namedRunner{"intake", in})
	a.addRunner("case index", runFunc(a.store.RunCaseIndex))
	// Each stage wires itself in a file of its own (wire_*.go): it may add
	// runners, API routes and cleanup steps.
	for _, add := range []func(context.Context, broker.Retrier) error{a.addEnrich, a.addNotify, a.addRecheck, a.addInbound} {
		if err := add(ctx, retry); err != nil {
			return nil, err
		}
	}
	a.apiLn, err = net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen api: %w", err)
	}
	a.cleanup.add("api listener", func() error {
		if err := a.apiLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return a, nil
}

func (a *App) ready(ctx context.Context) error {
	if !a.broker.Ready() {
		return errors.New("nats not connected")
	}
	return a.store.Ready(ctx)
}

// APIAddr is the address the status API listens on.
func (a *App) APIAddr() string { return a.apiLn.Addr().String() }

// NATSURL is where clients reach the embedded NATS server ("" if none).
func (a *App) NATSURL() string { return a.broker.ClientURL() }

// Store gives tests and tools access to the state.
func (a *App) Store() *store.Store { return a.store }

// Run serves until ctx ends, then stops every part: the API stops taking
// requests, consumers drain and finish in-flight work, and NATS (with the
// embedded server) goes last. If one part fails, the others are stopped too.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: a.api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	errs := make(chan error, len(a.runners)+1)
	var wg sync.WaitGroup
	for _, nr := range a.runners {
		wg.Go(func() {
			if err := nr.r.Run(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", nr.name, err)
				cancel()
			}
		})
	}
	wg.Go(func() {
		if err := srv.Serve(a.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("api: %w", err)
			cancel()
		}
	})
	a.log.Info("takedownd running", "api", a.APIAddr(), "nats", a.NATSURL())
	<-ctx.Done()
	a.log.Info("takedownd stopping")
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer shutCancel()
	_ = srv.Shutdown(shutCtx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	all = append(all, a.cleanup.run(shutCtx, a.log))
	return errors.Join(all...)
}

// Close releases everything without running (for a New that is not Run).
func (a *App) Close() error { return a.cleanup.run(context.Background(), a.log) }
