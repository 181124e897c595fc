// Command takedownsim is the simulated internet takedownd runs against,
// and the tools that drive a daemon through it:
//
//	takedownsim world   start the world and write the daemon's config
//	takedownsim cadence simulate re-check policies in virtual time
//	takedownsim help    explain every sub-command and flag
//
// Its logic lives in pkg/simnet/world; nothing in production imports it.
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

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "world":
		return runWorld(args[1:], stdout, stderr)
	case "cadence":
		return runCadence(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "takedownsim: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `takedownsim is the simulated internet takedownd runs against: DNS, the RDAP
registries (the captured answers in shared/fixtures/rdap plus generated
networks and domains), GeoIP files, the hosters' web servers with their
behaviours, a mail relay that keeps every message, and a partner hotline's
webhook, all on loopback. Nothing it runs reaches the real internet.

Usage:

  takedownsim world [flags]   start the world, write the daemon's config, print
                              where everything is and the demo URLs
  takedownsim cadence [flags] simulate re-checks in virtual time: removal →
                              confirmed and the probe rate of the default
                              policy and SCART's side by side (-h for flags)
  takedownsim help            this text

Flags of world:
`)
	fs, _ := worldFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Behaviours (-mix, and the demo sites):
  remove        removed -remove-after after the first notice or forward naming the URL
  never         stays online: reminders, then escalation
  flap          gone and back every minute after the notice, removed for good after -remove-after
  move          moves to Germany (DNS to a German network) a minute after the notice;
                removed -remove-after after the forward to the German partner
  cdn           behind Cloudflare (CNAME into its network): the CDN is noticed
  unresolvable  no DNS record: the case stays unresolvable

Generated hosts are h<i>.sim<d>.com, URLs http://h<i>.sim<d>.com/c/<n>.jpg.
`)
}

// worldOpts are the flags of the world command.
type worldOpts struct {
	dir, data, ports, fixtures            string
	dns, rdap, smtp, webhook, hoster, web string
	natsListen, apiListen                 string
	hosts, networks, domains              int
	split, mix, removeAfter, cadence      string
	rdapLatency                           time.Duration
	keepMail                              bool
	seed                                  uint64
}

func worldFlags() (*flag.FlagSet, *worldOpts) {
	o := &worldOpts{}
	fs := flag.NewFlagSet("world", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "world", "directory for the world's files: the daemon config (takedownd.yaml), GeoIP databases, partners.yaml, partner-secret, mail/")
	fs.StringVar(&o.data, "data", "data", "the daemon's data dir, written into its config")
	fs.StringVar(&o.fixtures, "fixtures", "", "directory of the captured RDAP answers (default: $TAKEDOWND_FIXTURES, else shared/fixtures/rdap above the working directory)")
	fs.StringVar(&o.ports, "ports", "fixed", "fixed: the default ports below; free: a free port for every server (the config names them)")
	fs.StringVar(&o.dns, "dns", world.DefaultAddrs.DNS, "DNS server address")
	fs.StringVar(&o.rdap, "rdap", world.DefaultAddrs.RDAP, "RDAP servers' address")
	fs.StringVar(&o.smtp, "smtp", world.DefaultAddrs.SMTP, "mail relay address")
	fs.StringVar(&o.webhook, "webhook", world.DefaultAddrs.Webhook, "partner webhook address")
	fs.StringVar(&o.hoster, "hoster", world.DefaultAddrs.Hoster, "hosters' web server address")
	fs.StringVar(&o.web, "web", world.DefaultAddrs.Web, "address of the world's own pages")
	fs.StringVar(&o.natsListen, "nats", "127.0.0.1:4222", "the daemon's embedded NATS listen address, written into its config")
	fs.StringVar(&o.apiListen, "api", "127.0.0.1:8080", "the daemon's API listen address, written into its config")
	fs.IntVar(&o.hosts, "hosts", 0, "generated hosts (0: the demo sites only)")
	fs.IntVar(&o.networks, "networks", 100, "generated networks (one /24 each, at the RIRs by -split)")
	fs.IntVar(&o.domains, "domains", 50, "generated .com domains (every second one with a registrar follow-up)")
	fs.StringVar(&o.split, "split", "ripe=75,arin=15,apnic=6,lacnic=2,afrinic=2", "how generated networks spread over the RIRs")
	fs.StringVar(&o.mix, "mix", "remove=85,never=5,flap=3,move=4,cdn=3", "behaviours of generated hosts, weighted")
	fs.StringVar(&o.removeAfter, "remove-after", "1m-5m", "removal delay after the notice for generated hosts, a range drawn from per URL")
	fs.StringVar(&o.cadence, "cadence", "demo", "re-check schedule in the daemon's config: demo (checks 1m, 2m, 3m, 5m … after the notice, misses 30s apart, stays-gone checks from 5m, a 20s batching window) or default (the daemon's own)")
	fs.DurationVar(&o.rdapLatency, "rdap-latency", 0, "delay of every RDAP answer")
	fs.BoolVar(&o.keepMail, "keep-mail", true, "write every mail the relay accepts to <dir>/mail/")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated part (the same seed, the same world)")
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
	split, err := world.ParseShares(o.split, world.RIRNames...)
	if err != nil {
		return world.Options{}, world.Daemon{}, fmt.Errorf("-split: %w", err)
	}
	mix, err := world.ParseShares(o.mix, world.Kinds...)
	if err != nil {
		return world.Options{}, world.Daemon{}, fmt.Errorf("-mix: %w", err)
	}
	ra, err := parseRange(o.removeAfter)
	if err != nil {
		return world.Options{}, world.Daemon{}, fmt.Errorf("-remove-after: %w", err)
	}
	d := world.Daemon{DataDir: o.data, NATSListen: o.natsListen, APIListen: o.apiListen}
	switch o.cadence {
	case "demo":
		c := world.DemoCadence
		c.DataDir, c.NATSListen, c.APIListen = d.DataDir, d.NATSListen, d.APIListen
		d = c
	case "default":
	default:
		return world.Options{}, world.Daemon{}, fmt.Errorf("-cadence %q: want demo or default", o.cadence)
	}
	return world.Options{
		Dir: o.dir, Listen: addrs, Fixtures: o.fixtures, RDAPLatency: o.rdapLatency, KeepMail: o.keepMail, Log: log,
		Plan: world.Plan{Hosts: o.hosts, Networks: o.networks, Domains: o.domains, Split: split, Mix: mix, RemoveAfter: ra, Seed: o.seed},
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
