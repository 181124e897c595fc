package cadence

import (
	"math"
	"slices"
	"time"
)

// caseStats is what one case's checks came to.
type caseStats struct {
	kind string
	// checks72 and events72 count the checks, and the timeline events
	// they wrote, in the 72 h after the notice.
	checks72, events72 int
	// checksToConfirm counts the checks up to the confirmed removal.
	checksToConfirm int
	// confirmed is set by the first confirmed removal at or after the
	// hoster's removal; delay is the time from that removal to it, detect
	// to the first gone result of its streak (the removal time recorded).
	confirmed     bool
	delay, detect time.Duration
	// premature counts removals confirmed while the material still came
	// back (a flapping hoster); reopened, the cases reopened.
	premature, reopened int
	unconfirmed         bool
	// steps are reminders and escalations; stepLag is the longest wait of
	// one from its due time (the notice + n intervals) to the check that
	// sent it.
	steps   int
	stepLag time.Duration
}

// acc gathers the figures of many cases.
type acc struct {
	cases, removers, confirmed, premature, reopened, unconfirmed int
	checks72, events72, checksToConfirm, steps                   int64
	stepLag                                                      time.Duration
	delays, detects                                              []time.Duration
	// perMinute and reqPerMinute count checks and HTTP requests by the
	// minute of the world they fell in.
	perMinute, reqPerMinute []int64
	// hostPeak are the most requests one hoster saw in any window of
	// peakWindows[i]; hosts counts the hosters.
	hostPeak []int
	hosts    int
}

// peakWindows are the windows a hoster's peak request count is taken over:
// a second, ten seconds, a minute.
var peakWindows = []time.Duration{time.Second, 10 * time.Second, time.Minute}

func newAcc(o Options) *acc {
	n := int(o.Horizon/time.Minute) + 1
	return &acc{perMinute: make([]int64, n), reqPerMinute: make([]int64, n), hostPeak: make([]int, len(peakWindows))}
}

func (a *acc) check(t time.Time, requests int) {
	i := int(t.Sub(Start) / time.Minute)
	if i >= 0 && i < len(a.perMinute) {
		a.perMinute[i]++
		a.reqPerMinute[i] += int64(requests)
	}
}

func (a *acc) add(cs caseStats) {
	a.cases++
	a.checks72 += int64(cs.checks72)
	a.events72 += int64(cs.events72)
	a.steps += int64(cs.steps)
	a.stepLag = max(a.stepLag, cs.stepLag)
	a.reopened += cs.reopened
	if cs.premature > 0 {
		a.premature++
	}
	if cs.kind == KindNever {
		return
	}
	a.removers++
	if cs.unconfirmed {
		a.unconfirmed++
	}
	if cs.confirmed {
		a.confirmed++
		a.checksToConfirm += int64(cs.checksToConfirm)
		a.delays = append(a.delays, cs.delay)
		a.detects = append(a.detects, cs.detect)
	}
}

// host takes the requests one hoster saw and keeps its peaks.
func (a *acc) host(traffic []hit) {
	a.hosts++
	slices.SortFunc(traffic, func(x, y hit) int { return x.at.Compare(y.at) })
	for i, w := range peakWindows {
		a.hostPeak[i] = max(a.hostPeak[i], peak(traffic, w))
	}
}

// peak is the most requests in any window of length w (sorted hits).
func peak(hits []hit, w time.Duration) int {
	best, sum, lo := 0, 0, 0
	for _, h := range hits {
		sum += h.n
		for h.at.Sub(hits[lo].at) >= w {
			sum -= hits[lo].n
			lo++
		}
		best = max(best, sum)
	}
	return best
}

func (a *acc) merge(b *acc) {
	a.cases += b.cases
	a.removers += b.removers
	a.confirmed += b.confirmed
	a.premature += b.premature
	a.reopened += b.reopened
	a.unconfirmed += b.unconfirmed
	a.checks72 += b.checks72
	a.events72 += b.events72
	a.checksToConfirm += b.checksToConfirm
	a.steps += b.steps
	a.stepLag = max(a.stepLag, b.stepLag)
	a.delays = append(a.delays, b.delays...)
	a.detects = append(a.detects, b.detects...)
	for i := range a.perMinute {
		a.perMinute[i] += b.perMinute[i]
		a.reqPerMinute[i] += b.reqPerMinute[i]
	}
	for i := range a.hostPeak {
		a.hostPeak[i] = max(a.hostPeak[i], b.hostPeak[i])
	}
	a.hosts += b.hosts
}

// Percentiles are points of a distribution of durations.
type Percentiles struct {
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// percentiles sorts ds and takes the nearest-rank percentiles.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		// Nearest rank: the smallest value with at least q of them at or
		// below it.
		k := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[min(max(k, 0), len(ds)-1)]
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

// busiestHour is the largest sum of 60 consecutive minutes, per second.
func busiestHour(perMinute []int64) float64 {
	var best, sum int64
	for i, v := range perMinute {
		sum += v
		if i >= 60 {
			sum -= perMinute[i-60]
		}
		best = max(best, sum)
	}
	return float64(best) / 3600
}

// average is the mean per second over the first d of the world.
func average(perMinute []int64, d time.Duration) float64 {
	var sum int64
	for _, v := range perMinute[:min(int(d/time.Minute), len(perMinute))] {
		sum += v
	}
	return float64(sum) / d.Seconds()
}
