package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// planFlags are the world's size and behaviours, shared by every command.
type planFlags struct {
	hosts, networks, domains int
	split, mix, removeAfter  string
	rdapLatency              time.Duration
	seed                     uint64
	fixtures                 string
}

func (p *planFlags) register(fs *flag.FlagSet, hosts int) {
	fs.IntVar(&p.hosts, "hosts", hosts, "generated hosts, h<i>.sim<d>.com (0: the demo sites only)")
	fs.IntVar(&p.networks, "networks", 100, "generated networks (one /24 each, at the RIRs by -split, 128 under each parent /17 with its AS)")
	fs.IntVar(&p.domains, "domains", 50, "generated .com domains at Verisign (every second one with a registrar follow-up)")
	fs.StringVar(&p.split, "split", "ripe=75,arin=15,apnic=6,lacnic=2,afrinic=2", "how generated networks spread over the RIRs (RIPE's are mostly NL, some DE, GB, FR)")
	fs.StringVar(&p.mix, "mix", "remove=85,never=5,flap=3,move=4,cdn=3", "behaviours of generated hosts, weighted (see Behaviours)")
	fs.StringVar(&p.removeAfter, "remove-after", "1m-5m", "removal delay after the notice for generated hosts, a range drawn from per URL")
	fs.DurationVar(&p.rdapLatency, "rdap-latency", 0, "delay of every RDAP answer")
	fs.Uint64Var(&p.seed, "seed", 1, "seed of the generated part (the same seed, the same world)")
	fs.StringVar(&p.fixtures, "fixtures", "", "directory of the captured RDAP answers (default: $TAKEDOWND_FIXTURES, else shared/fixtures/rdap above the working directory)")
}

func (p *planFlags) plan() (world.Plan, error) {
	split, err := world.ParseShares(p.split, world.RIRNames...)
	if err != nil {
		return world.Plan{}, fmt.Errorf("-split: %w", err)
	}
	mix, err := world.ParseShares(p.mix, world.Kinds...)
	if err != nil {
		return world.Plan{}, fmt.Errorf("-mix: %w", err)
	}
	ra, err := parseRange(p.removeAfter)
	if err != nil {
		return world.Plan{}, fmt.Errorf("-remove-after: %w", err)
	}
	return world.Plan{Hosts: p.hosts, Networks: p.networks, Domains: p.domains, Split: split, Mix: mix, RemoveAfter: ra, Seed: p.seed}, nil
}

// scheduleFlags are the re-check schedule written into the daemon's config.
type scheduleFlags struct {
	cadence        string
	batchWindow    time.Duration
	confirmSpacing time.Duration
}

func (s *scheduleFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.cadence, "cadence", "demo", "re-check schedule in the daemon's config: demo (checks 1m, 2m, 3m, 5m … after the notice, misses 30s apart, stays-gone checks from 5m, a 20s batching window), default (the daemon's own, nothing written: every 10m for 72h, spread per case, then every 4h; 3 misses 3m apart; 10m window), or a list of check times, e.g. 5s,30s,2m")
	fs.DurationVar(&s.batchWindow, "batch-window", 0, "notify.batch_window in the daemon's config (0: as -cadence says; -1ns: 0s, every notice at once)")
	fs.DurationVar(&s.confirmSpacing, "confirm-spacing", 0, "recheck.confirm_spacing in the daemon's config (0: as -cadence says)")
}

func (s *scheduleFlags) daemon() (world.Daemon, error) {
	var d world.Daemon
	switch s.cadence {
	case "demo":
		d = world.DemoCadence
	case "default":
	default:
		list, err := parseDurations(s.cadence)
		if err != nil || len(list) == 0 {
			return d, fmt.Errorf("-cadence %q: want demo, default or a list of durations", s.cadence)
		}
		d.Cadence = list
	}
	if s.batchWindow != 0 {
		d.BatchWindow = s.batchWindow
	}
	if s.confirmSpacing != 0 {
		d.ConfirmSpacing = s.confirmSpacing
	}
	return d, nil
}

// worldOpts are the flags of the world command.
type worldOpts struct {
	dir, data, ports                      string
	dns, rdap, smtp, webhook, hoster, web string
	natsListen, apiListen                 string
	keepMail                              bool
	plan                                  planFlags
	schedule                              scheduleFlags
}

func worldFlags() (*flag.FlagSet, *worldOpts) {
	o := &worldOpts{}
	fs := flag.NewFlagSet("world", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "world", "directory for the world's files: the daemon config (takedownd.yaml), GeoIP databases, partners.yaml, partner-secret, mail/")
	fs.StringVar(&o.data, "data", "data", "the daemon's data dir, written into its config")
	fs.StringVar(&o.ports, "ports", "fixed", "fixed: the ports of the flags below; free: a free port for every server (the config names them)")
	fs.StringVar(&o.dns, "dns", world.DefaultAddrs.DNS, "DNS server address")
	fs.StringVar(&o.rdap, "rdap", world.DefaultAddrs.RDAP, "RDAP servers' address")
	fs.StringVar(&o.smtp, "smtp", world.DefaultAddrs.SMTP, "mail relay address")
	fs.StringVar(&o.webhook, "webhook", world.DefaultAddrs.Webhook, "partner webhook address")
	fs.StringVar(&o.hoster, "hoster", world.DefaultAddrs.Hoster, "hosters' web server address")
	fs.StringVar(&o.web, "web", world.DefaultAddrs.Web, "address of the world's own pages")
	fs.StringVar(&o.natsListen, "nats", "127.0.0.1:4222", "the daemon's embedded NATS listen address, written into its config")
	fs.StringVar(&o.apiListen, "api", "127.0.0.1:8080", "the daemon's API listen address, written into its config")
	fs.BoolVar(&o.keepMail, "keep-mail", true, "write every mail the relay accepts to <dir>/mail/")
	o.plan.register(fs, 0)
	o.schedule.register(fs)
	return fs, o
}

func (o *worldOpts) options(log *slog.Logger) (world.Options, world.Daemon, error) {
	addrs := world.Addrs{DNS: o.dns, RDAP: o.rdap, SMTP: o.smtp, Webhook: o.webhook, Hoster: o.hoster, Web: o.web}
	switch o.ports {
	case "fixed":
	case "free":
		addrs = world.FreeAddrs
	default:
		return world.Options{}, world.Daemon{}, fmt.Errorf("-ports %q: want fixed or free", o.ports)
	}
	plan, err := o.plan.plan()
	if err != nil {
		return world.Options{}, world.Daemon{}, err
	}
	d, err := o.schedule.daemon()
	if err != nil {
		return world.Options{}, world.Daemon{}, err
	}
	d.DataDir, d.NATSListen, d.APIListen = o.data, o.natsListen, o.apiListen
	return world.Options{
		Dir: o.dir, Listen: addrs, Fixtures: o.plan.fixtures, RDAPLatency: o.plan.rdapLatency, KeepMail: o.keepMail, Log: log, Plan: plan,
	}, d, nil
}

// parseRange reads "1m-5m" or a single duration.
func parseRange(s string) ([2]time.Duration, error) {
	lo, hi, found := strings.Cut(s, "-")
	a, err := time.ParseDuration(lo)
	if err != nil {
		return [2]time.Duration{}, err
	}
	if !found {
		return [2]time.Duration{a, a}, nil
	}
	b, err := time.ParseDuration(hi)
	if err != nil {
		return [2]time.Duration{}, err
	}
	if b < a {
		return [2]time.Duration{}, errors.New("the range ends before it starts")
	}
	return [2]time.Duration{a, b}, nil
}

func runWorld(args []string, stdout, stderr io.Writer) int {
	fs, o := worldFlags()
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts, d, err := o.options(log)
	if err != nil {
		fmt.Fprintln(stderr, "takedownsim world:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := world.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "takedownsim world:", err)
		return 1
	}
	defer w.Close()
	cfgPath := filepath.Join(o.dir, "takedownd.yaml")
	if err := w.WriteConfig(cfgPath, d); err != nil {
		fmt.Fprintln(stderr, "takedownsim world:", err)
		return 1
	}
	w.Describe(stdout, cfgPath, d)
	<-ctx.Done()
	return 0
}
