// Package load drives a takedownd through the simulated internet of
// pkg/simnet/world and measures it: it starts the world, writes the
// daemon's config, starts the daemon binary (and kills and restarts it,
// for the crash runs) or attaches to a running one, publishes reports in
// acknowledged windows with the analyst's key, follows the daemon's audit
// trail and the world's mail relay, and at the end checks every case
// through the daemon's API. It is the logic of takedownsim load and
// takedownsim fault. Nothing in production imports it.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// Options configure a run.
type Options struct {
	// Dir holds the run: the world's files, the daemon's config and data
	// dir(s), and each daemon's log.
	Dir string
	// Scenario names the run in its report ("load", "kill", …).
	Scenario string
	// Reports is how many reports are published; Dup the share that
	// repeat a URL published before (another report of the same URL).
	Reports int
	Dup     float64
	// Rate is reports per second (0: as fast as JetStream acknowledges);
	// Window how many are in flight before the publisher waits for acks.
	Rate   float64
	Window int
	// World is the world's size and behaviours; its Dir, URLs and Listen
	// are set by the run.
	World world.Options
	// Schedule is the re-check schedule and batching window written into
	// the daemon's config.
	Schedule world.Daemon
	// Daemon says how the daemon runs.
	Daemon Daemon
	// Settle bounds the wait after the last report for every URL to be
	// noticed and every removal confirmed; StuckAfter is how long a case
	// may sit in a state before it counts as stuck.
	Settle, StuckAfter time.Duration
	// CensusWithin bounds the census of the daemon's cases at the end
	// (0: no bound). At a million cases the census pages through the API
	// of a daemon busy re-checking them all and takes many minutes; a run
	// about first notices can cut it short and still print its figures,
	// with the census's invariants marked unknown.
	CensusWithin time.Duration
	// UntilNoticed ends the wait once every URL is noticed and every
	// removal the world made so far is confirmed, without waiting for
	// the removals still to come (a run about first notices, with
	// hosters that remove days later).
	UntilNoticed bool
	// Steps are taken while the reports go out (faults, kills).
	Steps []Step
	Log   *slog.Logger
	// Progress receives a line every few seconds; nil: none.
	Progress io.Writer
}

// Daemon says how the tool reaches takedownd.
type Daemon struct {
	// Binary is the takedownd to start (and restart); empty attaches to a
	// daemon started by hand with the config the run writes (the run
	// waits for it to be ready), found at API with its data dir DataDir.
	Binary  string
	API     string
	DataDir string
	// PID is an attached daemon's process, for its RSS.
	PID int
	// Replicas is how many daemon processes run: the first embeds NATS
	// (unless NATSURLs), the others use it (or the cluster).
	Replicas int
	// NATSURLs, NKeyFile and AnalystNKey reach a NATS cluster elsewhere:
	// the daemons use NKeyFile, the publisher AnalystNKey.
	NATSURLs    []string
	NKeyFile    string
	AnalystNKey string
	// ReadyWithin bounds each start (default 2 minutes).
	ReadyWithin time.Duration
	// Pprof, when set, is the loopback address the first daemon serves
	// its Go profiles on (takedownd -pprof), to see where CPU and memory go.
	Pprof string
}

// Step is something done while the reports go out: once the daemon has
// taken AtReport reports into cases (so a kill lands while intake and the
// stages behind it are busy), or, with After, that long after the step
// before it.
// Steps run beside the publisher, which keeps publishing (and retrying
// what a dead server did not acknowledge) meanwhile.
type Step struct {
	Name     string
	AtReport int
	After    time.Duration
	Do       func(ctx context.Context, r *Run) error
}

// Run is a run in progress, as steps see it.
type Run struct {
	opts    Options
	log     *slog.Logger
	World   *world.World
	daemons []*daemon
	st      *stats
	pub     *publisher
	natsURL string
	done    []string // steps taken, for the report
	// The machine's one-minute load average, sampled every second.
	loadSum, loadMax float64
	loadN            int
	mu               sync.Mutex
}

// Daemons is how many daemon processes the run has.
func (r *Run) Daemons() int { return len(r.daemons) }

// KillDaemon SIGKILLs daemon i and, when restart, starts it again and
// waits until it is ready.
func (r *Run) KillDaemon(ctx context.Context, i int, restart bool) error {
	d := r.daemons[i]
	if d.bin == "" {
		return errors.New("kill: the daemon was not started by this run (-daemon)")
	}
	d.sampleRSS()
	if err := d.kill(); err != nil {
		return err
	}
	if !restart {
		return nil
	}
	if err := d.start(); err != nil {
		return err
	}
	return d.waitReady(ctx, r.opts.Daemon.ReadyWithin)
}

// StartDaemon starts daemon i again after KillDaemon without restart.
func (r *Run) StartDaemon(ctx context.Context, i int) error {
	d := r.daemons[i]
	if err := d.start(); err != nil {
		return err
	}
	return d.waitReady(ctx, r.opts.Daemon.ReadyWithin)
}

// note records what a step did, with the time into the run.
func (r *Run) note(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.done = append(r.done, line)
	r.mu.Unlock()
	r.log.Info(line)
}

// Execute runs the whole thing and returns its result; the error is for
// a run that could not be made, not for a broken invariant (see
// Result.Broken).
func Execute(ctx context.Context, opts Options) (*Result, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Window <= 0 {
		opts.Window = 1000
	}
	if opts.Daemon.Replicas <= 0 {
		opts.Daemon.Replicas = 1
	}
	if opts.Daemon.ReadyWithin <= 0 {
		opts.Daemon.ReadyWithin = 2 * time.Minute
	}
	if opts.Settle <= 0 {
		opts.Settle = 10 * time.Minute
	}
	if opts.StuckAfter <= 0 {
		opts.StuckAfter = 5 * time.Minute
	}
	if opts.World.Plan.Hosts <= 0 {
		return nil, errors.New("load: the world needs generated hosts (-hosts)")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	r := &Run{opts: opts, log: opts.Log}
	wopts := opts.World
	wopts.Dir = filepath.Join(opts.Dir, "world")
	wopts.URLs = opts.Reports
	wopts.Log = opts.Log
	if wopts.Listen == (world.Addrs{}) {
		wopts.Listen = world.FreeAddrs
	}
	w, err := world.Start(ctx, wopts)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	r.World = w
	r.st = newStats(w, w.Plan().Hosts, opts.Reports, fmt.Sprintf("%s-%d-", or(opts.Scenario, "load"), time.Now().Unix()))
	w.Watch(r.st.onNotice)
	// Stopped also when a later one fails to start.
	defer r.stopDaemons()
	if err := r.setUpDaemons(ctx); err != nil {
		return nil, err
	}
	return r.drive(ctx)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// setUpDaemons writes each daemon's config and starts it (or waits for
// the attached one).
func (r *Run) setUpDaemons(ctx context.Context) error {
	o := r.opts.Daemon
	var natsAddr string
	for i := range o.Replicas {
		d := &daemon{name: fmt.Sprintf("takedownd-%d", i), bin: o.Binary, env: []string{world.PartnerSecretEnv + "=" + r.World.PartnerSecret()}}
		d.dataDir = filepath.Join(r.opts.Dir, fmt.Sprintf("daemon-%d", i))
		if o.Binary == "" && o.DataDir != "" {
			d.dataDir = o.DataDir
		}
		d.config = filepath.Join(r.opts.Dir, fmt.Sprintf("takedownd-%d.yaml", i))
		d.logPath = filepath.Join(r.opts.Dir, fmt.Sprintf("takedownd-%d.log", i))
		if i == 0 && o.Pprof != "" {
			d.args = []string{"-pprof", o.Pprof}
		}
		d.api = o.API
		if d.api == "" || i > 0 {
			var err error
			if d.api, err = freePort(); err != nil {
				return err
			}
		}
		sched := r.opts.Schedule
		sched.DataDir, sched.APIListen = d.dataDir, d.api
		switch {
		case len(o.NATSURLs) > 0:
			sched.NATSURLs, sched.NKeyFile, sched.Replicas = o.NATSURLs, o.NKeyFile, 3
		case i == 0:
			var err error
			if natsAddr, err = freePort(); err != nil {
				return err
			}
			sched.NATSListen = natsAddr
		default:
			// A replica of the first daemon, on its embedded server.
			sched.NATSURLs = []string{"nats://" + natsAddr}
			sched.NKeyFile = broker.SeedFile(r.daemons[0].dataDir, broker.RoleDaemon)
		}
		if err := r.World.WriteConfig(d.config, sched); err != nil {
			return err
		}
		r.daemons = append(r.daemons, d)
	}
	r.natsURL = "nats://" + natsAddr
	if len(o.NATSURLs) > 0 {
		r.natsURL = strings.Join(o.NATSURLs, ",")
	}
	// In order: a replica needs the first daemon's key, written at its start.
	for _, d := range r.daemons {
		if d.bin == "" {
			d.pid = o.PID
			fmt.Fprintf(or2(r.opts.Progress), "start the daemon with its config; the run waits for it:\n  %s=%s takedownd -config %s\n",
				world.PartnerSecretEnv, r.World.PartnerSecret(), d.config)
		} else if err := d.start(); err != nil {
			return err
		}
		if err := d.waitReady(ctx, r.opts.Daemon.ReadyWithin); err != nil {
			return err
		}
	}
	return nil
}

func or2(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (r *Run) stopDaemons() {
	for i := len(r.daemons) - 1; i >= 0; i-- {
		if err := r.daemons[i].stop(); err != nil {
			r.log.Warn("stop daemon", "daemon", r.daemons[i].name, "err", err)
		}
	}
}

// keys are the seed files the run uses: the analyst's to publish, the
// daemon's to read the audit trail.
func (r *Run) keys() (analyst, daemonKey string) {
	o := r.opts.Daemon
	if len(o.NATSURLs) > 0 {
		return o.AnalystNKey, o.NKeyFile
	}
	dir := r.daemons[0].dataDir
	return broker.SeedFile(dir, broker.RoleAnalyst), broker.SeedFile(dir, broker.RoleDaemon)
}

// drive publishes, takes the steps, waits for the run to settle and
// takes the census.
func (r *Run) drive(ctx context.Context) (*Result, error) {
	analystKey, daemonKey := r.keys()
	pubConn, err := connect(r.natsURL, broker.RoleAnalyst, analystKey)
	if err != nil {
		return nil, err
	}
	defer pubConn.Close()
	evConn, err := connect(r.natsURL, broker.RoleDaemon, daemonKey)
	if err != nil {
		return nil, err
	}
	defer evConn.Close()
	pjs, err := jetstream.New(pubConn)
	if err != nil {
		return nil, err
	}
	ejs, err := jetstream.New(evConn)
	if err != nil {
		return nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		if err := followEvents(runCtx, ejs, r.st, r.log); err != nil {
			r.log.Error("follow events", "err", err)
		}
	}()
	go func() {
		defer bg.Done()
		r.sample(runCtx)
	}()
	defer bg.Wait()
	defer stopRun()

	r.pub = &publisher{js: pjs, subject: "takedown.reports", st: r.st, w: r.World, window: r.opts.Window,
		rate: r.opts.Rate, dup: r.opts.Dup, seed: r.opts.World.Plan.Seed, log: r.log}
	started := time.Now()
	stepsDone := make(chan error, 1)
	go func() { stepsDone <- r.takeSteps(runCtx, started) }()
	if err := r.pub.run(runCtx, 0, r.opts.Reports); err != nil {
		return nil, err
	}
	published := time.Now()
	if err := <-stepsDone; err != nil {
		return nil, err
	}
	settled := r.settle(runCtx, started)
	return r.result(runCtx, started, published, settled)
}

// takeSteps takes the steps in order while the reports go out: a step
// with AtReport once that many reports are acknowledged, one with After
// that long after the step before it.
func (r *Run) takeSteps(ctx context.Context, started time.Time) error {
	for _, s := range r.opts.Steps {
		if s.After > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.After):
			}
		} else {
			for r.st.takenIn() < int64(min(s.AtReport, r.opts.Reports)) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		r.note("%6.1fs  %s (%d reports acknowledged, %d taken in)", time.Since(started).Seconds(), s.Name, r.st.ackedCount(), r.st.takenIn())
		if err := s.Do(ctx, r); err != nil {
			return fmt.Errorf("step %s: %w", s.Name, err)
		}
	}
	return nil
}

// sample reads each daemon's RSS every second.
func (r *Run) sample(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, d := range r.daemons {
			d.sampleRSS()
		}
		if l, err := readLoad(); err == nil {
			r.mu.Lock()
			r.loadSum, r.loadMax, r.loadN = r.loadSum+l, max(r.loadMax, l), r.loadN+1
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settle waits until every URL was noticed (or rests where no notice
// goes) and every removal the world made was confirmed, or Settle has
// passed since the last report, printing progress as it goes.
func (r *Run) settle(ctx context.Context, started time.Time) bool {
	deadline := time.Now().Add(r.opts.Settle)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastLine := time.Time{}
	for {
		p := r.st.progress(r.pub.urls)
		if time.Since(lastLine) >= 5*time.Second {
			lastLine = time.Now()
			fmt.Fprintf(or2(r.opts.Progress), "%6.0fs  acked %d/%d  in %d  enriched %d  routed %d  noticed %d/%d URLs  removed by hosters %d/%d, confirmed %d  notices %d  rdap %d  chains %d\n",
				time.Since(started).Seconds(), p.acked, r.opts.Reports, p.received, p.enriched, p.routed, p.noticed, p.wantNotice,
				p.removedWorld, p.wantRemoval, p.removedDaemon, p.notices, r.World.Pace().Requests(), p.chains)
		}
		if r.settled(p) {
			fmt.Fprintf(or2(r.opts.Progress), "%6.0fs  settled: every URL noticed, every removal confirmed\n", time.Since(started).Seconds())
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// settled: every URL noticed, unless its site is one no notice reaches,
// and every URL whose hoster removes it removed and the removal confirmed.
func (r *Run) settled(p progress) bool {
	return p.acked == r.opts.Reports && p.noticed >= p.wantNotice &&
		(r.opts.UntilNoticed || p.removedWorld == p.wantRemoval) && p.removedDaemon == p.removedWorld
}
