// Package config loads and validates the takedownd configuration: one YAML
// file whose every key has a default, so an empty file (or none) runs a
// working daemon.
package config

import (
	"fmt"
	"os"
	"time"
)

// Config is the whole configuration. See config/takedownd.example.yaml for
// every key with its default and what it means.
//
// The stage sections are defined in files of their own (enrich.go,
// route.go, notify.go, recheck.go), each with its defaults and checks.
type Config struct {
	// DataDir holds the embedded NATS store, the API token file and the
	// outbox (-data overrides it).
	DataDir string `yaml:"data_dir"`
	// Log configures the daemon's log on stderr.
	Log Log `yaml:"log"`
	// NATS is an embedded server (the default) or a server or cluster
	// elsewhere.
	NATS NATS `yaml:"nats"`
	// Intake consumes confirmed reports from the analyst tool.
	Intake Intake `yaml:"intake"`
	// API is the takedown-status API.
	API API `yaml:"api"`
	// Enrich finds who hosts a URL: DNS, RDAP, GeoIP, CDN detection.
	Enrich Enrich `yaml:"enrich"`
	// Route decides who is told: the hoster, a partner hotline, a CDN.
	Route Route `yaml:"route"`
	// Notify sends notices and forwards.
	Notify Notify `yaml:"notify"`
	// Recheck probes noticed URLs until the material is gone.
	Recheck Recheck `yaml:"recheck"`
	// Inbound receives hosters' replies and bounces.
	Inbound Inbound `yaml:"inbound"`
	// Reconcile finds open cases without a next step and repairs them.
	Reconcile Reconcile `yaml:"reconcile"`
	// Stats keeps the figures of GET /v1/stats and /v1/hosters.
	Stats Stats `yaml:"stats"`
	// Retention anonymises closed cases after a while.
	Retention Retention `yaml:"retention"`
	// Storage bounds every stream and bucket in JetStream. At its limit
	// state refuses the write and /readyz answers 503; dead letters drop
	// the oldest. A warning is logged at warn_percent (README, "Storage
	// limits").
	Storage Storage `yaml:"storage"`
	// ShutdownTimeout bounds the whole stop after SIGTERM: the API, the
	// draining of every stage and closing NATS. Work still in hand shortly
	// before it is abandoned, unacknowledged, to be redelivered. Keep it
	// below the service manager's stop timeout (TimeoutStopSec=30 in
	// deploy/takedownd.service), or the daemon is killed mid-stop.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Intake configures the report consumer.
type Intake struct {
	// Subject the analyst tool publishes v1 reports to, and the stream
	// that holds them.
	Subject string `yaml:"subject"`
	Stream  string `yaml:"stream"`
	// MaxReportBytes rejects larger messages (to the dead letters).
	MaxReportBytes int `yaml:"max_report_bytes"`
	// Workers is how many reports are processed at once per replica. A
	// report waits on the server four times, so it takes many at once to
	// keep the cores busy: on two cores intake's benchmark ran at 34 % of
	// the naive rate with 32, 44–45 % with 256, no more with 512.
	Workers int `yaml:"workers"`
	// MaxDeliver bounds deliveries of a report that keeps failing for a
	// passing reason; the last failure sends it to the dead letters.
	MaxDeliver int `yaml:"max_deliver"`
	// AckWait is how long a delivered report may go without an ack or a
	// sign of progress (sent while it is processed) before JetStream hands
	// it to another replica: after a crash, the wait of its in-flight work.
	AckWait time.Duration `yaml:"ack_wait"`
	// Backoff is the wait before redelivery 2, 3, …; the last repeats.
	Backoff []time.Duration `yaml:"backoff"`
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
}

// API configures the status API.
type API struct {
	// Listen is the API's address. Port 0 picks a free port (the start-up
	// log names it).
	Listen string `yaml:"listen"`
	// Tokens are the bearer tokens with their roles and bindings, e.g.
	//   - {name: analysts, role: analyst, token: {env: TAKEDOWN_ANALYST_TOKEN}}
	//   - {name: hotline-de, role: partner, partner: DE, token: {file: /run/secrets/de}}
	//   - {name: hoster-a, role: hoster, domains: [hoster-a.nl], asns: [64500], token: {env: HOSTER_A}}
	// Roles: viewer (reads every case; "reader" is its old name), analyst
	// (reads, dead letters, every action), admin (an analyst who also
	// lists the tokens), partner (a partner hotline: the cases forwarded to
	// it; may report their status), hoster (an abuse desk: the cases
	// noticed to it, nobody else's URL or contact; may report a removal).
	// With none, the daemon writes one admin token to <data_dir>/api-token.
	Tokens []Token `yaml:"tokens"`
	// PageSize is the default and MaxPageSize the largest list page.
	PageSize    int `yaml:"page_size"`
	MaxPageSize int `yaml:"max_page_size"`
	// ReadHeaderTimeout, ReadTimeout and WriteTimeout bound reading a
	// request's header, a whole request, and writing a response;
	// IdleTimeout closes a kept-alive connection that sends nothing, so
	// slow or idle clients cannot hold connections open.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// TLSCertFile and TLSKeyFile (PEM) make the API listener speak HTTPS
	// (TLS 1.2 or later) when both are set; clients then use https://.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ReadyTimeout bounds one readiness check of /readyz, the probe write
	// it commits to the takedown_health bucket included: a replica whose
	// writes take longer is not ready.
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
	// MaxPause bounds how far ahead the pause action may hold a case's
	// notices: a pause always ends, and a forgotten one must not keep a
	// hoster from hearing of its material for long.
	MaxPause time.Duration `yaml:"max_pause"`
}

// Token is one API bearer token, the role it grants and what a partner or
// hoster token is bound to.
type Token struct {
	// Name names the token in logs and on the timeline of every action it
	// takes; unique.
	Name string `yaml:"name"`
	// Role is viewer, reader (= viewer), analyst, admin, partner or hoster.
	Role  string `yaml:"role"`
	Token Secret `yaml:"token"`
	// Partner binds a partner token to its hotline: the country code under
	// which the partner directory (route.partners_file) lists it. The
	// token sees the cases forwarded to that hotline.
	Partner string `yaml:"partner"`
	// Domains and ASNs bind a hoster token (one of them at least): it sees
	// a case when a notice of it went to an address in one of the domains
	// (or a name below one), or when the case is hosted in one of the ASNs
	// and its hoster was noticed.
	Domains []string `yaml:"domains"`
	ASNs    []uint   `yaml:"asns"`
}

// Roles an API token may carry: the hotline's own (viewer, its old name
// reader, analyst, admin), then those of outside parties.
var Roles = []string{"viewer", "reader", "analyst", "admin", "partner", "hoster"}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		DataDir: "data",
		Log:     Log{Level: "info", Format: "text"},
		NATS:    defaultNATS(),
		Intake: Intake{
			Subject:         "takedown.reports",
			Stream:          "TAKEDOWN_REPORTS",
			MaxReportBytes:  64 << 10,
			Workers:         256,
			MaxDeliver:      10,
			AckWait:         20 * time.Second,
			Backoff:         []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
			DuplicateWindow: 24 * time.Hour,
		},
		API: API{
			Listen: "127.0.0.1:8080", PageSize: 50, MaxPageSize: 1000,
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
			ReadyTimeout: 2 * time.Second, MaxPause: 30 * 24 * time.Hour,
		},
		Enrich:  defaultEnrich(),
		Route:   defaultRoute(),
		Notify:  defaultNotify(),
		Recheck: defaultRecheck(),
		Inbound: defaultInbound(),
		Storage: defaultStorage(),

		Reconcile: defaultReconcile(),
		Stats:     defaultStats(),
		Retention: defaultRetention(),

		ShutdownTimeout: 20 * time.Second,
	}
}

// Load reads the YAML file at path over the defaults, applies the
// overrides (command-line flags) and validates the result. An empty path
// gives the defaults. Unknown keys are errors: a typo must not silently
// fall back to a default.
func Load(path string, overrides ...func(*Config)) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		if err := Decode(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, o := range overrides {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		if path == "" {
			return cfg, fmt.Errorf("built-in defaults: %w", err)
		}
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}
