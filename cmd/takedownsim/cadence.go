package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/cadence"
)

// cadenceOpts are the flags of the cadence command.
type cadenceOpts struct {
	cases, urlsPerHost, open, workers int
	spread, flapPeriod, horizon       time.Duration
	removal, mix, config              string
	inconclusive, sustained           float64
	seed                              uint64
	scart, json                       bool
}

func cadenceFlags() (*flag.FlagSet, *cadenceOpts) {
	o := &cadenceOpts{}
	fs := flag.NewFlagSet("cadence", flag.ContinueOnError)
	fs.IntVar(&o.cases, "cases", 100_000, "cases simulated")
	fs.IntVar(&o.urlsPerHost, "urls-per-host", 50, "URLs per hoster, noticed together (1,000,000 on 20,000 hosts: 50)")
	fs.IntVar(&o.open, "open", 1_000_000, "open cases the probe rates are scaled to")
	fs.DurationVar(&o.spread, "notice-spread", time.Hour, "the hosters' notices spread evenly over this time")
	fs.StringVar(&o.removal, "removal", "uniform", "removal delay after the notice: uniform (over 72h), field (86 % within 24h, the rest to 72h), or bins as 1h=25,6h=30,24h=31,72h=14")
	fs.StringVar(&o.mix, "mix", "remove=92,flap=3,never=5", "behaviours of the hosters, weighted (the load tool's move and cdn remove too)")
	fs.DurationVar(&o.flapPeriod, "flap-period", time.Minute, "each spell of a flapping hoster")
	fs.Float64Var(&o.inconclusive, "inconclusive", 0, "share of probes that learn nothing (timeouts, 5xx)")
	fs.DurationVar(&o.horizon, "horizon", 0, "how long the world runs (0: the notice spread, the longest removal delay and a day)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the world")
	fs.IntVar(&o.workers, "workers", 0, "goroutines (0: one per core)")
	fs.StringVar(&o.config, "config", "", "a takedownd config file: its re-check policy gets a column of its own")
	fs.BoolVar(&o.scart, "scart", true, "add SCART's policy in takedownd's config (see -print-scart)")
	fs.Float64Var(&o.sustained, "sustained", 0, "checks/s the prober sustains (BenchmarkDueChecks), to compare the rates with")
	fs.BoolVar(&o.json, "json", false, "write the results as JSON")
	return fs, o
}

func runCadence(args []string, stdout, stderr io.Writer) int {
	fs, o := cadenceFlags()
	fs.SetOutput(stderr)
	printSCART := fs.Bool("print-scart", false, "print SCART's policy as takedownd config and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *printSCART {
		fmt.Fprint(stdout, cadence.SCARTYAML)
		return 0
	}
	opts, pols, err := o.build()
	if err != nil {
		fmt.Fprintln(stderr, "takedownsim cadence:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rs []cadence.Result
	for _, p := range pols {
		start := time.Now()
		r, err := cadence.Run(ctx, opts, p)
		if err != nil {
			fmt.Fprintln(stderr, "takedownsim cadence:", err)
			return 1
		}
		fmt.Fprintf(stderr, "takedownsim cadence: %s simulated in %s\n", p.Name, time.Since(start).Round(time.Millisecond))
		rs = append(rs, r)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"sustained_checks_per_s": o.sustained, "results": rs}); err != nil {
			fmt.Fprintln(stderr, "takedownsim cadence:", err)
			return 1
		}
		return 0
	}
	if err := cadence.WriteTable(stdout, rs); err != nil {
		fmt.Fprintln(stderr, "takedownsim cadence:", err)
		return 1
	}
	if o.sustained > 0 {
		for _, r := range rs {
			fmt.Fprintf(stdout, "%s: the busiest hour needs %.0f checks/s, %.0f %% of the %.0f/s the prober sustains\n",
				r.Policy, r.ChecksBusiestHour, 100*r.ChecksBusiestHour/o.sustained, o.sustained)
		}
	}
	return 0
}

func (o *cadenceOpts) build() (cadence.Options, []cadence.Policy, error) {
	removal, err := cadence.ParseDist(o.removal)
	if err != nil {
		return cadence.Options{}, nil, fmt.Errorf("-removal: %w", err)
	}
	mix, err := cadence.ParseMix(o.mix)
	if err != nil {
		return cadence.Options{}, nil, fmt.Errorf("-mix: %w", err)
	}
	if o.cases <= 0 || o.urlsPerHost <= 0 || o.open <= 0 {
		return cadence.Options{}, nil, fmt.Errorf("-cases, -urls-per-host and -open must be positive")
	}
	opts := cadence.Options{
		Cases: o.cases, URLsPerHost: o.urlsPerHost, NoticeSpread: o.spread, Removal: removal, Mix: mix,
		FlapPeriod: o.flapPeriod, Inconclusive: o.inconclusive, Horizon: o.horizon, Open: o.open,
		Seed: o.seed, Workers: o.workers,
	}
	pols := []cadence.Policy{cadence.DefaultPolicy()}
	if o.config != "" {
		p, err := cadence.LoadPolicy(o.config, o.config)
		if err != nil {
			return opts, nil, err
		}
		pols = append(pols, p)
	}
	if o.scart {
		p, err := cadence.SCARTPolicy()
		if err != nil {
			return opts, nil, err
		}
		pols = append(pols, p)
	}
	return opts, pols, nil
}
