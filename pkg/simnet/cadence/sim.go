// Package cadence simulates re-checks in virtual time, to see what a
// re-check configuration costs and how soon it confirms a removal. The
// world cannot run for the 72 hours hosters take, so cases are noticed
// over a spread, their hosters remove at times drawn from a distribution
// (or flap, or never remove), and each case is checked at exactly the
// times takedownd's own decision code plans (recheck.Policy, the code
// every check in the daemon runs), answered by what its hoster does at
// that virtual time. Nothing runs in real time and nothing touches a
// network: a run is a pure function of its options.
//
// It measures the time from the hoster's removal to the confirmed
// removal, the checks and timeline events per case, and the probe rate a
// given number of open cases needs (over the busiest hour and over the
// 72 hours), as well as what each hoster sees per second.
package cadence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/simnet/world"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Options describe the simulated world; the zero value of a field means
// its default.
type Options struct {
	// Cases is how many cases are simulated (default 100,000).
	Cases int
	// URLsPerHost cases sit on one hoster and share its notice (one notice
	// per abuse contact): 1,000,000 URLs on 20,000 hosts is 50 (default).
	URLsPerHost int
	// NoticeSpread spreads the hosters' notices evenly over this time from
	// the start (default 1h: the burst every case is first-noticed within).
	NoticeSpread time.Duration
	// Removal is when removing hosters remove, after their notice
	// (default Uniform: evenly over 72 h).
	Removal Dist
	// Mix weighs the behaviours (default DefaultMix).
	Mix []world.Share
	// FlapPeriod is each spell of a flapping hoster (default 1m, as the
	// load tool's generated hosts).
	FlapPeriod time.Duration
	// Inconclusive is the share of probes that learn nothing (0: none).
	Inconclusive float64
	// Horizon is how long the world runs from the start (default: the
	// spread, the longest removal delay and a day, so that every policy
	// can confirm every removal).
	Horizon time.Duration
	// Open is the number of open cases the rates are scaled to (default
	// 1,000,000).
	Open int
	// Seed makes a different but equally reproducible world (default 1).
	Seed uint64
	// Workers simulate hosters in parallel (default GOMAXPROCS).
	Workers int
}

// Start is the virtual time the first notice goes out: a Monday morning.
var Start = time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)

// window is how long after its notice a case's checks count as "within
// 72 h": the time hosters are given in the world.
const window = 72 * time.Hour

func (o Options) withDefaults() Options {
	if o.Cases <= 0 {
		o.Cases = 100_000
	}
	if o.URLsPerHost <= 0 {
		o.URLsPerHost = 50
	}
	if o.NoticeSpread <= 0 {
		o.NoticeSpread = time.Hour
	}
	if len(o.Removal.Bins) == 0 {
		o.Removal = Uniform
	}
	if len(o.Mix) == 0 {
		o.Mix = DefaultMix
	}
	if o.FlapPeriod <= 0 {
		o.FlapPeriod = time.Minute
	}
	if o.Horizon <= 0 {
		o.Horizon = o.NoticeSpread + o.Removal.Max() + 24*time.Hour
	}
	if o.Open <= 0 {
		o.Open = 1_000_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Policy is one re-check configuration under test, with a name for the
// report.
type Policy struct {
	Name   string
	Config config.Recheck
	// BatchWindow is notify.batch_window, for the report only: it delays
	// the notice, which is where the world's clock starts.
	BatchWindow time.Duration
}

// Run simulates the world of opts under pol.
func Run(ctx context.Context, opts Options, pol Policy) (Result, error) {
	opts = opts.withDefaults()
	if opts.Inconclusive < 0 || opts.Inconclusive >= 1 {
		return Result{}, fmt.Errorf("simulate %s: inconclusive share %v, want [0, 1)", pol.Name, opts.Inconclusive)
	}
	if opts.Horizon < opts.NoticeSpread+window {
		return Result{}, fmt.Errorf("simulate %s: horizon %s is shorter than the spread and 72 h", pol.Name, opts.Horizon)
	}
	p := recheck.NewPolicy(pol.Config)
	mix := newMixer(opts.Mix)
	hosts := (opts.Cases + opts.URLsPerHost - 1) / opts.URLsPerHost
	next := make(chan int)
	accs := make([]*acc, opts.Workers)
	var wg sync.WaitGroup
	for w := range opts.Workers {
		accs[w] = newAcc(opts)
		wg.Go(func() {
			for h := range next {
				simulateHost(p, pol, opts, mix, h, accs[w])
			}
		})
	}
	var err error
feed:
	for h := range hosts {
		select {
		case next <- h:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return Result{}, fmt.Errorf("simulate %s: %w", pol.Name, err)
	}
	total := newAcc(opts)
	for _, a := range accs {
		total.merge(a)
	}
	return total.result(opts, pol), nil
}

// simulateHost runs the cases of hoster h, all noticed together.
func simulateHost(p recheck.Policy, pol Policy, opts Options, mix mixer, h int, a *acc) {
	rng := rand.New(rand.NewPCG(opts.Seed, uint64(h)))
	noticeAt := Start.Add(time.Duration(rng.Float64() * float64(opts.NoticeSpread))).Truncate(time.Second)
	lo, hi := h*opts.URLsPerHost, min((h+1)*opts.URLsPerHost, opts.Cases)
	var traffic []hit
	for i := lo; i < hi; i++ {
		crng := rand.New(rand.NewPCG(opts.Seed, uint64(i)<<1|1<<63))
		hs := &hoster{kind: mix.pick(crng.Float64()), noticeAt: noticeAt, inconclusive: opts.Inconclusive, rng: crng}
		if hs.kind != KindNever {
			hs.removeAt = noticeAt.Add(opts.Removal.draw(crng.Float64(), crng.Float64()))
		}
		if hs.kind == KindFlap {
			hs.flapPeriod = opts.FlapPeriod
			hs.flapPhase = time.Duration(crng.Float64() * float64(2*opts.FlapPeriod))
		}
		// Case ids as intake makes them: received a few seconds before
		// the notice, numbered in stream order.
		id := store.CaseID(noticeAt.Add(-time.Duration(hi-i)*time.Millisecond), uint64(i+1))
		traffic = simulateCase(p, pol, opts, id, hs, a, traffic)
	}
	a.host(traffic)
}

// hit is the requests one check sent to its hoster.
type hit struct {
	at time.Time
	n  int
}

// simulateCase checks one case from its notice to the horizon, as the
// daemon would: at each planned time its hoster answers, the policy
// decides, and the reappearance notices it asks for go out at once.
func simulateCase(p recheck.Policy, pol Policy, opts Options, id string, hs *hoster, a *acc, traffic []hit) []hit {
	end := Start.Add(opts.Horizon)
	c := &takedown.Case{
		ID: id, State: takedown.StateNoticed, ReceivedAt: hs.noticeAt.Add(-pol.BatchWindow),
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: hs.noticeAt.Add(-pol.BatchWindow)},
		Notices: []takedown.NoticeRef{{Kind: "first", At: hs.noticeAt, Outcome: "sent"}},
	}
	interval := pol.Config.Routes[takedown.RouteHoster].ReminderInterval
	base := hs.noticeAt
	cs := caseStats{kind: hs.kind}
	for t := p.FirstCheck(id, hs.noticeAt, hs.noticeAt); !t.IsZero() && t.Before(end); {
		res := hs.probe(t)
		d := p.Check(c, res, t)
		a.check(t, requests(res))
		traffic = append(traffic, hit{t, requests(res)})
		inWindow := t.Before(hs.noticeAt.Add(window))
		if inWindow {
			cs.checks72++
			cs.events72 += len(d.Events)
		}
		if !cs.confirmed {
			cs.checksToConfirm++
		}
		for _, n := range d.Notify {
			switch n.Kind {
			case recheck.NotifyReminder, recheck.NotifyEscalation:
				cs.steps++
				if interval > 0 {
					cs.stepLag = max(cs.stepLag, t.Sub(base.Add(time.Duration(n.Reminder)*interval)))
				}
			case recheck.NotifyReappeared:
				// The notify stage sends it at once; the cadence and the
				// reminders count from it.
				c.Notices = append(c.Notices, takedown.NoticeRef{Kind: recheck.NotifyReappeared, At: t, Outcome: "sent"})
				base = t
				cs.reopened++
			}
		}
		if d.Removed {
			switch {
			case t.Before(hs.removeAt) || hs.removeAt.IsZero():
				cs.premature++
			case !cs.confirmed:
				cs.confirmed = true
				cs.delay = t.Sub(hs.removeAt)
				cs.detect = c.Checks.RemovedAt.Sub(hs.removeAt)
			}
		}
		t = d.Next
	}
	if hs.kind != KindNever && !cs.confirmed && cs.premature == 0 {
		cs.unconfirmed = true
	}
	a.add(cs)
	return traffic
}
