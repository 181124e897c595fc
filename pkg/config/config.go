// Package config loads and validates the takedownd configuration: one YAML
// file whose every key has a default, so an empty file (or none) runs a
// working daemon.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Config is the whole configuration. See config/takedownd.example.yaml for
// every key with its default and what it means.
type Config struct {
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	NATS    NATS   `yaml:"nats"`
	Intake  Intake `yaml:"intake"`
	API     API    `yaml:"api"`
	// The stage sections live in files of their own (enrich.go, route.go,
	// notify.go, recheck.go), each with its defaults and checks.
	Enrich  Enrich  `yaml:"enrich"`
	Route   Route   `yaml:"route"`
	Notify  Notify  `yaml:"notify"`
	Recheck Recheck `yaml:"recheck"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// NATS says which NATS to use: an embedded server (the default) or a
// server or cluster elsewhere when URLs is set.
type NATS struct {
	URLs            []string      `yaml:"urls"`
	Embedded        Embedded      `yaml:"embedded"`
	CredentialsFile string        `yaml:"credentials_file"`
	NKeyFile        string        `yaml:"nkey_file"`
	User            string        `yaml:"user"`
	Password        Secret        `yaml:"password"`
	Token           Secret        `yaml:"token"`
	TLS             TLS           `yaml:"tls"`
	Replicas        int           `yaml:"replicas"`
	CallTimeout     time.Duration `yaml:"call_timeout"`
	SetupRetries    int           `yaml:"setup_retries"`
	SetupBackoff    time.Duration `yaml:"setup_backoff"`
	// MaxPending bounds un-acked asynchronous publishes per connection.
	MaxPending int `yaml:"max_pending"`
}

// Embedded configures the in-process nats-server.
type Embedded struct {
	Listen string `yaml:"listen"`
	// InProcessOnly serves only this process, without a TCP listener.
	InProcessOnly bool `yaml:"in_process_only"`
	// MaxStore bounds the JetStream file store (bytes; 0 = server default).
	MaxStore int64 `yaml:"max_store"`
}

// TLS holds client TLS files for a remote NATS.
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Intake configures the report consumer.
type Intake struct {
	Subject        string `yaml:"subject"`
	Stream         string `yaml:"stream"`
	MaxReportBytes int    `yaml:"max_report_bytes"`
	Workers        int    `yaml:"workers"`
	MaxDeliver     int    `yaml:"max_deliver"`
	// AckWait is how long a delivered report may stay unacknowledged
	// before JetStream hands it to another worker (after a crash).
	AckWait time.Duration   `yaml:"ack_wait"`
	Backoff []time.Duration `yaml:"backoff"`
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
}

// API configures the status API.
type API struct {
	Listen string  `yaml:"listen"`
	Tokens []Token `yaml:"tokens"`
	// PageSize is the default and MaxPageSize the largest list page.
	PageSize    int `yaml:"page_size"`
	MaxPageSize int `yaml:"max_page_size"`
}

// Token is one API bearer token and the role it grants.
type Token struct {
	Name  string `yaml:"name"`
	Role  string `yaml:"role"` // reader, analyst or admin
	Token Secret `yaml:"token"`
}

// Roles an API token may carry, weakest first.
var Roles = []string{"reader", "analyst", "admin"}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		DataDir: "data",
		Log:     Log{Level: "info", Format: "text"},
		NATS: NATS{
			Embedded:     Embedded{Listen: "127.0.0.1:4222"},
			Replicas:     1,
			CallTimeout:  5 * time.Second,
			SetupRetries: 10,
			SetupBackoff: 500 * time.Millisecond,
			MaxPending:   4096,
		},
		Intake: Intake{
			Subject:         "takedown.reports",
			Stream:          "TAKEDOWN_REPORTS",
			MaxReportBytes:  64 << 10,
			Workers:         32,
			MaxDeliver:      10,
			AckWait:         30 * time.Second,
			Backoff:         []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
			DuplicateWindow: 24 * time.Hour,
		},
		API:     API{Listen: "127.0.0.1:8080", PageSize: 50, MaxPageSize: 1000},
		Enrich:  defaultEnrich(),
		Route:   defaultRoute(),
		Notify:  defaultNotify(),
		Recheck: defaultRecheck(),
	}
}

// Load reads the YAML file at path over the defaults and validates it.
// An empty path gives the defaults. Unknown keys are errors: a typo must
// not silently fall back to a default.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Decode(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Decode reads YAML into cfg, keeping what the YAML does not mention.
func Decode(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse yaml: %w", err)
	}
	return nil
}
