package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/load"
	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// loadOpts are the flags of load and fault.
type loadOpts struct {
	dir, jsonOut                      string
	reports, window, replicas         int
	dup, rate                         float64
	daemon, api, data, natsURLs       string
	nkey, analystNKey, daemonLog      string
	pid, enrichWorkers, routeWorkers  int
	settle, stuckAfter, ready         time.Duration
	censusWithin                      time.Duration
	retryBackoff, enrichBackoff       string
	plan                              planFlags
	schedule                          scheduleFlags
	kills                             int
	smtpRate                          float64
	smtpDown, smtpFor                 time.Duration
	rdapRetryAfter, rdapFor, rdapDown time.Duration
	nodeDown, nodeUp                  string
	nodeBack                          time.Duration
	untilNoticed                      bool
	pprof                             string
	verbose                           bool
}

func loadFlags(name string, reports int, rate float64) (*flag.FlagSet, *loadOpts) {
	o := &loadOpts{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", name+"-run", "directory of the run: the world, each daemon's config, data dir and log")
	fs.StringVar(&o.jsonOut, "json", "", "also write the result as JSON to this file")
	fs.IntVar(&o.reports, "reports", reports, "reports to publish")
	fs.Float64Var(&o.dup, "dup", 0.05, "share of reports that repeat a URL published before")
	fs.Float64Var(&o.rate, "rate", rate, "reports per second (0: as fast as JetStream acknowledges them)")
	fs.IntVar(&o.window, "window", 1000, "reports in flight before the publisher waits for their acknowledgements")
	fs.StringVar(&o.daemon, "daemon", "", "the takedownd binary to start (and to kill and restart in fault runs); empty: attach to a daemon you start with the config the run writes")
	fs.StringVar(&o.api, "api", "", "the daemon's API address (default: a free port); with an attached daemon, where it will listen")
	fs.StringVar(&o.data, "data", "", "an attached daemon's data dir (its api-token and NATS keys); default: <dir>/daemon-0")
	fs.IntVar(&o.pid, "pid", 0, "an attached daemon's process id, for its RSS")
	fs.IntVar(&o.replicas, "replicas", 1, "daemon processes: the first embeds NATS (unless -nats), the others are its replicas")
	fs.StringVar(&o.natsURLs, "nats", "", "comma-separated URLs of a NATS cluster elsewhere; the daemons then embed nothing")
	fs.StringVar(&o.nkey, "nkey", "", "with -nats: the daemons' nkey seed file (also used to read the audit trail)")
	fs.StringVar(&o.analystNKey, "analyst-nkey", "", "with -nats: the analyst tool's nkey seed file, to publish")
	fs.StringVar(&o.daemonLog, "daemon-log", "info", "log level of the daemons (their logs are in -dir)")
	fs.DurationVar(&o.settle, "settle", 20*time.Minute, "after the last report, wait at most this long for every URL to be noticed and every removal confirmed")
	fs.DurationVar(&o.stuckAfter, "stuck-after", 5*time.Minute, "a case that sits this long in received, enriched or routed, or in noticed after the hoster removed, is stuck")
	fs.DurationVar(&o.censusWithin, "census-within", 0, "bound on the census of the daemon's cases after the run (0: none); past it the figures are printed and the census's invariants count as unknown")
	fs.DurationVar(&o.ready, "ready", 2*time.Minute, "bound on each daemon start")
	fs.StringVar(&o.retryBackoff, "retry-backoff", "", "notify.retry_backoff in the daemon's config, e.g. 5s,15s,30s (empty: the daemon's default)")
	fs.StringVar(&o.enrichBackoff, "enrich-backoff", "", "enrich.backoff in the daemon's config (empty: the daemon's default)")
	fs.BoolVar(&o.verbose, "v", false, "log each step and the tool's own warnings")
	fs.BoolVar(&o.untilNoticed, "until-noticed", false, "end the run once every URL is noticed (and the removals made so far confirmed), without waiting for removals still to come")
	fs.IntVar(&o.enrichWorkers, "enrich-workers", 0, "enrich.workers in the daemon's config (0: the daemon's default)")
	fs.IntVar(&o.routeWorkers, "route-workers", 0, "route.workers in the daemon's config (0: the daemon's default)")
	fs.StringVar(&o.pprof, "daemon-pprof", "", "a loopback host:port the first daemon serves its Go profiles on (takedownd -pprof)")
	o.plan.register(fs, 200)
	o.schedule.register(fs)
	return fs, o
}

func parseDurations(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (o *loadOpts) options(scenario string, log *slog.Logger, progress io.Writer) (load.Options, error) {
	plan, err := o.plan.plan()
	if err != nil {
		return load.Options{}, err
	}
	if plan.Hosts <= 0 {
		return load.Options{}, fmt.Errorf("-hosts must be at least 1")
	}
	sched, err := o.schedule.daemon()
	if err != nil {
		return load.Options{}, err
	}
	if sched.NotifyRetryBackoff, err = parseDurations(o.retryBackoff); err != nil {
		return load.Options{}, fmt.Errorf("-retry-backoff: %w", err)
	}
	if sched.EnrichBackoff, err = parseDurations(o.enrichBackoff); err != nil {
		return load.Options{}, fmt.Errorf("-enrich-backoff: %w", err)
	}
	sched.LogLevel = o.daemonLog
	sched.EnrichWorkers, sched.RouteWorkers = o.enrichWorkers, o.routeWorkers
	d := load.Daemon{Binary: o.daemon, API: o.api, DataDir: o.data, PID: o.pid, Replicas: o.replicas,
		NKeyFile: o.nkey, AnalystNKey: o.analystNKey, ReadyWithin: o.ready, Pprof: o.pprof}
	if o.natsURLs != "" {
		d.NATSURLs = strings.Split(o.natsURLs, ",")
		if o.nkey == "" || o.analystNKey == "" {
			return load.Options{}, fmt.Errorf("-nats needs -nkey and -analyst-nkey")
		}
	}
	if o.reports <= 0 {
		return load.Options{}, fmt.Errorf("-reports must be at least 1")
	}
	return load.Options{
		Dir: o.dir, Scenario: scenario, Reports: o.reports, Dup: o.dup, Rate: o.rate, Window: o.window,
		World:    world.Options{Plan: plan, RDAPLatency: o.plan.rdapLatency, Fixtures: o.plan.fixtures},
		Schedule: sched, Daemon: d, Settle: o.settle, StuckAfter: o.stuckAfter, CensusWithin: o.censusWithin, UntilNoticed: o.untilNoticed, Log: log, Progress: progress,
	}, nil
}

func runLoad(args []string, stdout, stderr io.Writer) int {
	fs, o := loadFlags("load", 2000, 0)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return execute("load", o, nil, stdout, stderr)
}

// faultScenarios are the fault runs, with their default size and rate:
// kills are spread over time, so they land while the reports go out.
var faultScenarios = map[string]struct {
	reports int
	rate    float64
}{"kill": {10000, 300}, "smtp": {2000, 0}, "rdap": {2000, 0}, "node": {10000, 300}}

func runFault(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || faultScenarios[args[0]].reports == 0 {
		fmt.Fprintln(stderr, "takedownsim fault: want a scenario: kill, smtp, rdap or node (takedownsim help)")
		return 2
	}
	scenario := args[0]
	fs, o := loadFlags("fault-"+scenario, faultScenarios[scenario].reports, faultScenarios[scenario].rate)
	fs.IntVar(&o.kills, "kills", 5, "kill: how many times a daemon is SIGKILLed (and started again) while the reports go out")
	fs.Float64Var(&o.smtpRate, "smtp-4xx", 0.3, "smtp: share of MAIL, RCPT and DATA the relay answers with a 4xx")
	fs.DurationVar(&o.smtpDown, "smtp-down", time.Minute, "smtp: how long the relay is gone, from halfway through the reports")
	fs.DurationVar(&o.smtpFor, "smtp-4xx-after", time.Minute, "smtp: how long the 4xx go on after the relay is back")
	fs.DurationVar(&o.rdapRetryAfter, "rdap-retry-after", 20*time.Second, "rdap: the Retry-After of the 429 answers")
	fs.DurationVar(&o.rdapFor, "rdap-limited", time.Minute, "rdap: how long every server answers 429")
	fs.DurationVar(&o.rdapDown, "rdap-down", time.Minute, "rdap: how long RIPE's and Verisign's servers are gone, a -rdap-limited after the 429s end")
	fs.StringVar(&o.nodeDown, "node-down", "", "node: command that stops one NATS node (e.g. kill $(cat n2.pid))")
	fs.StringVar(&o.nodeUp, "node-up", "", "node: command that starts it again")
	fs.DurationVar(&o.nodeBack, "node-back", time.Minute, "node: how long the node (and the replica) stay down")
	fs.SetOutput(stderr)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if o.daemon == "" && scenario != "smtp" && scenario != "rdap" {
		fmt.Fprintf(stderr, "takedownsim fault %s: needs -daemon, the binary it kills and starts\n", scenario)
		return 2
	}
	var steps []load.Step
	switch scenario {
	case "kill":
		steps = load.KillSteps(o.reports, o.kills, o.replicas)
	case "smtp":
		steps = load.SMTPSteps(o.reports, o.smtpRate, o.smtpDown, o.smtpFor)
	case "rdap":
		steps = load.RDAPSteps(o.rdapRetryAfter, o.rdapFor, o.rdapDown)
	case "node":
		if o.natsURLs == "" || o.nodeDown == "" || o.nodeUp == "" {
			fmt.Fprintln(stderr, "takedownsim fault node: needs -nats (the cluster), -node-down and -node-up")
			return 2
		}
		steps = load.NodeSteps(o.reports, o.nodeDown, o.nodeUp, o.nodeBack, o.replicas)
	}
	return execute(scenario, o, steps, stdout, stderr)
}

// execute runs one load or fault run: 0 when every invariant held, 1
// when one broke or the run failed, 2 for bad flags.
func execute(scenario string, o *loadOpts, steps []load.Step, stdout, stderr io.Writer) int {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts, err := o.options(scenario, log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "takedownsim %s: %v\n", scenario, err)
		return 2
	}
	opts.Steps = steps
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := load.Execute(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "takedownsim %s: %v\n", scenario, err)
		return 1
	}
	res.Print(stdout)
	if o.jsonOut != "" {
		if err := res.WriteJSON(o.jsonOut); err != nil {
			fmt.Fprintf(stderr, "takedownsim %s: %v\n", scenario, err)
			return 1
		}
	}
	if broken := res.Broken(); len(broken) > 0 {
		fmt.Fprintf(stderr, "takedownsim %s: %d invariants broken\n", scenario, len(broken))
		return 1
	}
	return 0
}
