package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Problem is one invalid key.
type Problem struct {
	Key    string
	Reason string
}

// Problems is every invalid key found, reported at once.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Key + ": " + p.Reason
	}
	return fmt.Sprintf("%d configuration problem(s):\n  %s", len(ps), strings.Join(lines, "\n  "))
}

type checker struct{ problems Problems }

func (c *checker) add(key, format string, args ...any) {
	c.problems = append(c.problems, Problem{Key: key, Reason: fmt.Sprintf(format, args...)})
}

func (c *checker) positive(key string, v int) {
	if v <= 0 {
		c.add(key, "must be positive, got %d", v)
	}
}

// hostPort checks an address to connect to: host:port, port 1–65535.
func (c *checker) hostPort(key, v string, required bool) {
	c.address(key, v, required, false)
}

// listen checks an address to listen on: [host]:port, port 1–65535, or 0
// (a free port, named in the start-up log) where zeroOK.
func (c *checker) listen(key, v string, required, zeroOK bool) {
	c.address(key, v, required, zeroOK)
}

func (c *checker) address(key, v string, required, zeroOK bool) {
	if v == "" {
		if required {
			c.add(key, "must be set (host:port)")
		}
		return
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		c.add(key, "%q is not host:port: %v", v, err)
		return
	}
	if strings.ContainsAny(host, " \t/@") {
		c.add(key, "%q is not a host name or IP address", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || strings.ContainsAny(port, "+-") {
		c.add(key, "port %q is not a number", port)
		return
	}
	switch {
	case p == 0 && zeroOK:
	case p == 0:
		c.add(key, "port 0 is not allowed here (1–65535)")
	case p < 0 || p > 65535:
		c.add(key, "port %d is out of range (1–65535)", p)
	}
}

func (c *checker) oneOf(key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		c.add(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
}

func (c *checker) subject(key, v string) {
	if v == "" || strings.ContainsAny(v, " \t*>") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
		c.add(key, "%q is not a NATS subject without wildcards", v)
	}
}

// Validate checks every key and returns all problems at once. It also
// resolves every secret that is set (reading its file or environment
// variable, keeping nothing) and opens every file the configuration
// names, so that a missing one is found before anything starts.
func (cfg *Config) Validate() error {
	c := &checker{}
	if cfg.DataDir == "" {
		c.add("data_dir", "must be set")
	}
	c.oneOf("log.level", cfg.Log.Level, "debug", "info", "warn", "error")
	c.oneOf("log.format", cfg.Log.Format, "json", "text")
	if cfg.ShutdownTimeout < time.Second {
		c.add("shutdown_timeout", "must be at least 1s, got %s", cfg.ShutdownTimeout)
	}

	cfg.NATS.validate(c)

	in := cfg.Intake
	c.subject("intake.subject", in.Subject)
	if in.Stream == "" || strings.ContainsAny(in.Stream, " .*>") {
		c.add("intake.stream", "%q is not a stream name", in.Stream)
	}
	c.positive("intake.max_report_bytes", in.MaxReportBytes)
	c.positive("intake.workers", in.Workers)
	if in.MaxDeliver < 2 {
		c.add("intake.max_deliver", "must be at least 2, got %d", in.MaxDeliver)
	}
	if in.AckWait < time.Second {
		c.add("intake.ack_wait", "must be at least 1s, got %s", in.AckWait)
	}
	if len(in.Backoff) == 0 {
		c.add("intake.backoff", "must list at least one wait")
	}
	durations(c, "intake.backoff", in.Backoff)
	if in.DuplicateWindow <= 0 {
		c.add("intake.duplicate_window", "must be positive")
	}

	a := cfg.API
	c.listen("api.listen", a.Listen, true, true)
	c.positive("api.page_size", a.PageSize)
	for key, d := range map[string]time.Duration{
		"api.read_header_timeout": a.ReadHeaderTimeout, "api.read_timeout": a.ReadTimeout,
		"api.write_timeout": a.WriteTimeout, "api.idle_timeout": a.IdleTimeout, "api.ready_timeout": a.ReadyTimeout,
		"api.max_pause": a.MaxPause,
	} {
		if d <= 0 {
			c.add(key, "must be positive, got %s", d)
		}
	}
	if (a.TLSCertFile == "") != (a.TLSKeyFile == "") {
		c.add("api", "tls_cert_file and tls_key_file go together")
	}
	if a.MaxPageSize < a.PageSize {
		c.add("api.max_page_size", "must be at least api.page_size (%d)", a.PageSize)
	}
	names := map[string]bool{}
	for i, t := range a.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			c.add(key+".name", "must be set")
		} else if names[t.Name] {
			c.add(key+".name", "duplicate token name %q", t.Name)
		}
		names[t.Name] = true
		c.oneOf(key+".role", t.Role, Roles...)
		if !t.Token.IsSet() {
			c.add(key+".token", "must be set (inline, {file: …} or {env: …})")
		}
		t.validateBinding(c, key, cfg.Route.HotlineCountry)
	}
	cfg.checkSecrets(c)
	cfg.checkFiles(c)
	cfg.Enrich.validate(c)
	cfg.Route.validate(c)
	cfg.Notify.validate(c)
	cfg.Recheck.validate(c)
	cfg.Inbound.validate(c)
	cfg.Reconcile.validate(c)
	cfg.Stats.validate(c)
	cfg.Retention.validate(c)
	cfg.validateStorage(c)
	if len(c.problems) > 0 {
		// Some checks range over maps: sorted, the list reads the same
		// every time.
		slices.SortStableFunc(c.problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
		return c.problems
	}
	return nil
}

// IsLoopbackHost reports whether host (a name or an IP address, as in a
// host:port) is this machine: localhost, 127.0.0.0/8 or ::1. Names other
// than localhost are not resolved: what they point at may change.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
