package world

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Daemon is how the daemon that runs against the world is set up; the
// world writes it into the config beside what points at the world.
type Daemon struct {
	// DataDir is the daemon's data_dir.
	DataDir string
	// NATSListen and APIListen are the embedded NATS and the API; a load
	// run that restarts the daemon needs fixed ports here.
	NATSListen, APIListen string
	// NATSURLs, when set, is a NATS cluster elsewhere (nothing embedded),
	// reached with NKeyFile, with Replicas of every stream.
	NATSURLs []string
	NKeyFile string
	Replicas int
	// BatchWindow is notify.batch_window: zero keeps the daemon's default,
	// a negative value writes 0s (every notice at once).
	BatchWindow time.Duration
	// Cadence, ConfirmGone, ConfirmSpacing and StaysGone are the re-check
	// schedule; a zero value keeps the daemon's default.
	Cadence        []time.Duration
	ConfirmGone    int
	ConfirmSpacing time.Duration
	StaysGone      []time.Duration
	// NotifyRetryBackoff and EnrichBackoff are notify.retry_backoff and
	// enrich.backoff; empty keeps the daemon's defaults. Fault runs in CI
	// shorten them, so a notice refused with a 4xx goes again in seconds.
	NotifyRetryBackoff []time.Duration
	EnrichBackoff      []time.Duration
	// DNSMinTTL is enrich.dns.min_ttl (zero: the daemon's default, 30 s).
	DNSMinTTL time.Duration
	// EnrichWorkers and RouteWorkers are enrich.workers and route.workers
	// (zero: the daemon's defaults), for load runs that find out which
	// stage bounds a burst.
	EnrichWorkers, RouteWorkers int
	// LogLevel is log.level.
	LogLevel string
}

// DemoCadence is the re-check schedule of the world's demo config: a
// removal is confirmed within a minute or two, where the daemon's default
// (a check every 10 minutes, misses 3 minutes apart) takes 6 to 16
// minutes. The daemon's early checks (every 10 minutes for 72 h), its
// spread (here capped at the first offset, a minute) and its
// record_unchanged still apply.
var DemoCadence = Daemon{
	BatchWindow:    20 * time.Second,
	Cadence:        []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, time.Hour, 4 * time.Hour, 12 * time.Hour, 24 * time.Hour},
	ConfirmGone:    3,
	ConfirmSpacing: 30 * time.Second,
	// Material that comes back shows within minutes, not at +1 d.
	StaysGone: []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour, 168 * time.Hour, 720 * time.Hour},
}

// WriteConfig writes the daemon configuration that points at the world
// to path, and the partner list it names beside it.
func (w *World) WriteConfig(path string, d Daemon) error {
	partners := w.file("partners.yaml")
	if err := os.WriteFile(partners, []byte(w.partnersYAML()), 0o644); err != nil {
		return fmt.Errorf("write partners: %w", err)
	}
	if err := os.WriteFile(path, []byte(w.configYAML(d, partners)), 0o644); err != nil {
		return fmt.Errorf("write daemon config: %w", err)
	}
	return nil
}

// PartnerURL is where the German partner hotline takes forwards.
func (w *World) PartnerURL() string { return w.Partner.URL() + "/forward" }

func (w *World) partnersYAML() string {
	return "# Written by takedownsim: the partner hotlines of the simulated internet.\n" +
		"# DE takes forwards by webhook (the world's receiver checks the signature),\n" +
		"# GB and US by e-mail, through the world's relay like every notice.\n" +
		"partners:\n" +
		fmt.Sprintf("  - {country: DE, name: \"Sim hotline DE\", channel: webhook, address: %s, secret_env: %s}\n", q(w.PartnerURL()), PartnerSecretEnv) +
		"  - {country: GB, name: \"Sim hotline GB\", channel: email, address: reports@gb-hotline.sim.example}\n" +
		"  - {country: US, name: \"Sim hotline US\", channel: email, address: reports@us-hotline.sim.example}\n"
}

func (w *World) configYAML(d Daemon, partners string) string {
	var b strings.Builder
	a := w.Addrs()
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by takedownsim world: takedownd against the simulated internet.")
	line("# Nothing here reaches the real internet: DNS, RDAP, the hosters, the mail")
	line("# relay and the partner hotline are the world's servers on loopback.")
	line("data_dir: %s", q(d.DataDir))
	if d.LogLevel != "" {
		line("log: {level: %s}", d.LogLevel)
	}
	line("nats:")
	if len(d.NATSURLs) > 0 {
		line("  urls: [%s]", qlist(d.NATSURLs))
		if d.NKeyFile != "" {
			line("  nkey_file: %s", q(d.NKeyFile))
		}
		line("  replicas: %d", max(d.Replicas, 1))
	} else {
		line("  embedded: {listen: %s}", q(or(d.NATSListen, "127.0.0.1:4222")))
	}
	line("api: {listen: %s}", q(or(d.APIListen, "127.0.0.1:8080")))
	line("enrich:")
	if d.EnrichWorkers > 0 {
		line("  workers: %d", d.EnrichWorkers)
	}
	if len(d.EnrichBackoff) > 0 {
		line("  backoff: [%s]", durations(d.EnrichBackoff))
	}
	line("  dns:")
	line("    servers: [%s]  # the world's resolver", q(a.DNS))
	if d.DNSMinTTL > 0 {
		line("    min_ttl: %s", d.DNSMinTTL)
	}
	line("  rdap:")
	line("    bootstrap_url: \"\"  # the IANA files built into takedownd, never IANA itself")
	line("    # Every registry to its stand-in; \"*\" catches any other server.")
	line("    overrides:")
	ov := w.RDAP.Overrides()
	for _, k := range sortedKeys(ov) {
		line("      %s: %s", q(k), q(ov[k]))
	}
	line("    # The limits the registries publish; the world checks them (takedownsim /rdap).")
	line("    limits:")
	for _, k := range sortedKeys(w.opts.RDAPLimits) {
		l := w.opts.RDAPLimits[k]
		line("      %s: {per_minute: %g, burst: %d}", q(k), l.PerMinute, l.Burst)
	}
	line("    default_limit: {per_minute: %g, burst: %d}", w.opts.RDAPDefault.PerMinute, w.opts.RDAPDefault.Burst)
	line("  geoip: {country_path: %s, asn_path: %s}", q(w.countryDB), q(w.asnDB))
	if d.RouteWorkers > 0 {
		line("route: {partners_file: %s, workers: %d}", q(partners), d.RouteWorkers)
	} else {
		line("route: {partners_file: %s}", q(partners))
	}
	line("notify:")
	switch {
	case d.BatchWindow > 0:
		line("  batch_window: %s", d.BatchWindow)
	case d.BatchWindow < 0:
		line("  batch_window: 0s")
	}
	if len(d.NotifyRetryBackoff) > 0 {
		line("  retry_backoff: [%s]", durations(d.NotifyRetryBackoff))
	}
	line("  smtp: {host: %s, port: %d, tls: none}  # the world's relay keeps every message", q(w.Relay.Host()), w.Relay.Port())
	line("recheck:")
	if len(d.Cadence) > 0 {
		line("  cadence: [%s]", durations(d.Cadence))
	}
	if d.ConfirmGone > 0 {
		line("  confirm_gone: %d", d.ConfirmGone)
	}
	if d.ConfirmSpacing > 0 {
		line("  confirm_spacing: %s", d.ConfirmSpacing)
	}
	if len(d.StaysGone) > 0 {
		line("  stays_gone: [%s]", durations(d.StaysGone))
	}
	line("  probe:")
	line("    # Each address the world's DNS hands out, to the world's one hoster. The")
	line("    # targets are loopback addresses, reached as written: no allow_private,")
	line("    # so the prober still refuses any other private address.")
	line("    connect_to:")
	for _, k := range sortedKeys(w.connectTo) {
		line("      %s: %s", q(k), q(w.connectTo[k]))
	}
	return b.String()
}

func q(s string) string { return strconv.Quote(s) }

func qlist(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return strings.Join(out, ", ")
}

func durations(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return strings.Join(out, ", ")
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
