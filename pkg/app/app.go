// Package app wires takedownd together: NATS (embedded or remote), the
// store, every stage and the status API. cmd/takedownd only parses flags
// and calls into it; tests boot the whole daemon in-process with it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/contacthealth"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/intake"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/verp"
)

// Options are what the embedding program provides.
type Options struct {
	Config config.Config
	Log    *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// afterStep, set by tests only, is called at the end of each step of
	// start-up, with its name.
	afterStep func(a *App, step string)
}

// Runner is a long-running part of the daemon.
type Runner interface {
	Run(ctx context.Context) error
}

// App is a running takedownd.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	now    func() time.Time
	broker *broker.Broker
	store  *store.Store
	api    *api.Server
	// contacts is the runtime contact book (wire_actions.go).
	contacts *kvbook.Book
	apiLn    net.Listener
	parts    []*part
	cleanup  cleanups
	// afterStep, set by tests only, is told each step of start-up.
	afterStep func(a *App, step string)
	// onNoticed starts re-checks for a case whose notice went out; the
	// recheck wiring sets it, the notify stage calls it.
	onNoticed func(ctx context.Context, caseID string, at time.Time) error
	resolver  *dns.Resolver // see dnsResolver
	metrics   *prometheus.Registry
	verp      *verp.Signer        // see verpSigner
	health    *contacthealth.Book // see contactHealth
	// notices and checks are what the reconciler asks about a case's
	// next step (wire_reconcile.go).
	notices *notify.Stage
	checks  *recheck.Scheduler
	stats   *stats.Aggregate
	// dashboard is served at / beside the API (wire_dashboard.go).
	dashboard http.Handler
}

// runFunc makes a Run method of a plain function.
type runFunc func(ctx context.Context) error

// Run implements Runner.
func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// addRunner registers a long-running part, started by Run and restarted
// when it fails (see lifecycle.go).
func (a *App) addRunner(name string, r Runner) {
	a.parts = append(a.parts, &part{name: name, r: r, onFailure: restartPart})
}

// addServer registers a long-running part that owns a listening socket:
// when it fails, the daemon fails (see lifecycle.go).
func (a *App) addServer(name string, r Runner) {
	a.parts = append(a.parts, &part{name: name, r: r, onFailure: failDaemon})
}

// ErrStopped is what New returns when its context ended before start-up
// finished: a stop, not a failure (the daemon exits 0). Everything New
// had opened is closed again.
var ErrStopped = errors.New("stopped during start-up")

// step marks the end of a step of start-up (for the tests that stop the
// daemon at each one).
func (a *App) step(name string) {
	if a.afterStep != nil {
		a.afterStep(a, name)
	}
}

// New opens NATS, the store and every stage, and binds the API listener:
// everything the parts need is created here, so that Run has nothing left
// to set up. On error everything already opened is closed again; when the
// error is that ctx ended (a stop during start-up), it is ErrStopped.
func New(ctx context.Context, opts Options) (_ *App, err error) {
	cfg := opts.Config
	sizeEmbeddedStore(&cfg)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{cfg: cfg, log: opts.Log, now: opts.Now, metrics: newRegistry(), afterStep: opts.afterStep}
	defer func() {
		if err == nil {
			return
		}
		_ = a.cleanup.run(context.Background(), a.log)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ErrStopped, err)
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	a.step("data dir")
	a.broker, err = broker.Open(ctx, broker.Options{Config: cfg.NATS, DataDir: cfg.DataDir, Name: "takedownd", ReportSubject: cfg.Intake.Subject, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	a.cleanup.add("nats", a.broker.Close)
	a.step("nats")
	retry := broker.Retrier{CallTimeout: cfg.NATS.CallTimeout, Attempts: cfg.NATS.SetupRetries, Backoff: cfg.NATS.SetupBackoff}
	a.store, err = store.Open(ctx, a.broker.JS, store.Options{
		Replicas: cfg.NATS.Replicas, Retry: retry, Now: opts.Now, Log: opts.Log, Metrics: a.metrics,
		ReadyTimeout: cfg.API.ReadyTimeout, Limits: storageLimits(cfg), WarnPercent: cfg.Storage.WarnPercent,
	})
	if err != nil {
		return nil, err
	}
	a.step("store")
	tokens, err := apiTokens(cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	a.api, err = api.New(a.store, api.Options{
		Tokens: tokens, Ready: a.ready, PageSize: cfg.API.PageSize, MaxPageSize: cfg.API.MaxPageSize,
		Log: opts.Log.With("component", "api"),
	})
	if err != nil {
		return nil, err
	}
	a.api.HandleHTTP(api.Route{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics: counts only, never a URL or case id"}, metricsHandler(a.metrics))
	if err := a.addDashboard(); err != nil {
		return nil, err
	}
	a.step("api")
	in, err := intake.New(ctx, cfg.Intake, a.store, opts.Log.With("component", "intake"))
	if err != nil {
		return nil, err
	}
	a.addRunner("intake", in)
	a.addRunner("case index", runFunc(a.store.RunCaseIndex))
	a.addRunner("event outbox", runFunc(a.store.RunOutbox))
	a.addRunner("storage monitor", runFunc(a.runStorageMonitor))
	a.step("intake")
	// Each stage wires itself in a file of its own (wire_*.go): it may add
	// runners, API routes and cleanup steps.
	for _, add := range []struct {
		name string
		fn   func(context.Context, broker.Retrier) error
	}{{"actions", a.addActions}, {"enrich", a.addEnrich}, {"notify", a.addNotify}, {"recheck", a.addRecheck}, {"inbound", a.addInbound}, {"reconcile", a.addReconcile}, {"stats", a.addStats}} {
		if err := add.fn(ctx, retry); err != nil {
			return nil, err
		}
		a.step(add.name)
	}
	if a.apiLn, err = apiListener(cfg.API); err != nil {
		return nil, err
	}
	a.cleanup.add("api listener", func() error {
		if err := a.apiLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	a.step("api listener")
	return a, nil
}

// apiListener binds the API's address, speaking TLS when a certificate
// is configured.
func apiListener(cfg config.API) (net.Listener, error) {
	var cert tls.Certificate
	if cfg.TLSCertFile != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, fmt.Errorf("api tls: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen api: %w", err)
	}
	if cfg.TLSCertFile == "" {
		return ln, nil
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// APIAddr is the address the status API listens on.
func (a *App) APIAddr() string { return a.apiLn.Addr().String() }

// NATSURL is where clients reach the embedded NATS server ("" if none).
func (a *App) NATSURL() string { return a.broker.ClientURL() }

// Store gives tests and tools access to the state.
func (a *App) Store() *store.Store { return a.store }

// Close releases everything without running (for a New that is not Run).
func (a *App) Close() error { return a.cleanup.run(context.Background(), a.log) }
