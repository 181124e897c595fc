package cadence

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// The behaviours a simulated hoster can have, as the load tool's world
// (pkg/simnet/world) names them. Its move and cdn hosters remove after
// their own notice or forward, which starts the cadence again: for
// re-checks they are remove.
const (
	// KindRemove serves the material until its removal time, then 404.
	KindRemove = "remove"
	// KindFlap takes it down and puts it back in turns (FlapPeriod each,
	// at a phase of its own) until its removal time, then 404 for good.
	KindFlap = "flap"
	// KindNever serves it whatever it is told.
	KindNever = "never"
)

// Kinds lists the behaviours, for flags.
var Kinds = []string{KindRemove, KindFlap, KindNever}

// DefaultMix mirrors the load tool's default (remove 85, move 4 and cdn 3
// all remove; flap 3; never 5).
var DefaultMix = []world.Share{{Name: KindRemove, Weight: 92}, {Name: KindFlap, Weight: 3}, {Name: KindNever, Weight: 5}}

// ParseMix reads "remove=92,flap=3,never=5" as the load tool reads -mix.
func ParseMix(s string) ([]world.Share, error) { return world.ParseShares(s, Kinds...) }

// mixer picks a behaviour for a uniform draw, by the cumulative weights.
type mixer struct {
	names []string
	upto  []float64 // cumulative shares, the last 1
}

func newMixer(shares []world.Share) mixer {
	var m mixer
	total := 0.0
	for _, s := range shares {
		total += s.Weight
	}
	acc := 0.0
	for _, s := range shares {
		acc += s.Weight
		m.names, m.upto = append(m.names, s.Name), append(m.upto, acc/total)
	}
	return m
}

func (m mixer) pick(u float64) string {
	i, _ := slices.BinarySearch(m.upto, u)
	for i < len(m.upto)-1 && m.upto[i] <= u {
		i++ // a share of weight 0 is never picked
	}
	return m.names[min(i, len(m.names)-1)]
}

// Dist is a distribution of removal delays after the notice: bins up to
// an upper bound with a weight each, uniform inside a bin (from the bound
// before it, or 0).
type Dist struct {
	Name string
	Bins []Bin
}

// Bin is one part of a Dist: delays up to Upto, Weight of them.
type Bin struct {
	Upto   time.Duration
	Weight float64
}

// Uniform spreads removals evenly over the 72 hours after the notice, as
// the load tool does with -remove-after 0-72h.
var Uniform = Dist{Name: "uniform", Bins: []Bin{{72 * time.Hour, 100}}}

// Field is shaped like the figures the hotline works with (shared BRIEF,
// "Facts from the field"): the largest Dutch hoster removed 86 % within
// 24 h (2020), and within the INHOPE network removal takes about 2.5 days,
// so the rest spreads to 72 h. How the first day splits (a quarter within
// the hour, by abuse desks that act at once; most of the rest within
// office hours) is our assumption, not a published figure.
var Field = Dist{Name: "field", Bins: []Bin{{time.Hour, 25}, {6 * time.Hour, 30}, {24 * time.Hour, 31}, {72 * time.Hour, 14}}}

// ParseDist reads "uniform", "field", or bins as "1h=25,6h=30,24h=31,72h=14"
// (ascending bounds, weights).
func ParseDist(s string) (Dist, error) {
	switch s {
	case Uniform.Name:
		return Uniform, nil
	case Field.Name:
		return Field, nil
	}
	d := Dist{Name: s}
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		b, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Dist{}, fmt.Errorf("parse removal %q: want uniform, field or bound=weight,…", part)
		}
		upto, err := time.ParseDuration(b)
		if err != nil || upto <= 0 {
			return Dist{}, fmt.Errorf("parse removal %q: bound must be a positive duration", part)
		}
		if n := len(d.Bins); n > 0 && upto <= d.Bins[n-1].Upto {
			return Dist{}, fmt.Errorf("parse removal %q: bounds must ascend", part)
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || v < 0 || v > 1e9 {
			return Dist{}, fmt.Errorf("parse removal %q: weight must be a number >= 0", part)
		}
		d.Bins = append(d.Bins, Bin{upto, v})
		total += v
	}
	if total <= 0 {
		return Dist{}, fmt.Errorf("parse removal %q: the weights add up to nothing", s)
	}
	return d, nil
}

// Max is the longest delay the distribution draws.
func (d Dist) Max() time.Duration { return d.Bins[len(d.Bins)-1].Upto }

// draw returns the delay for u and v, two uniform draws in [0, 1): u
// picks the bin, v the place in it.
func (d Dist) draw(u, v float64) time.Duration {
	total := 0.0
	for _, b := range d.Bins {
		total += b.Weight
	}
	at, lo := u*total, time.Duration(0)
	for _, b := range d.Bins {
		if at < b.Weight {
			return lo + time.Duration(v*float64(b.Upto-lo))
		}
		at -= b.Weight
		lo = b.Upto
	}
	last := d.Bins[len(d.Bins)-1]
	return last.Upto
}

// hoster is what one URL does after its notice.
type hoster struct {
	kind     string
	noticeAt time.Time
	// removeAt is when the material goes for good (zero: never).
	removeAt time.Time
	// flapPeriod and flapPhase shape a flapping site's spells.
	flapPeriod, flapPhase time.Duration
	// inconclusive is the share of probes that learn nothing (a timeout,
	// a 503), drawn from rng.
	inconclusive float64
	rng          *rand.Rand
}

// probe is what a check at t finds.
func (h *hoster) probe(t time.Time) probe.Result {
	if h.inconclusive > 0 && h.rng.Float64() < h.inconclusive {
		return probe.Result{Verdict: probe.Inconclusive, Reason: probe.ReasonTimeout}
	}
	if h.online(t) {
		return probe.Result{Verdict: probe.Online, Reason: probe.ReasonHashMatch, StatusCode: 200}
	}
	return probe.Result{Verdict: probe.Gone, Reason: probe.ReasonHTTP404, StatusCode: 404}
}

// online says whether the material is served at t.
func (h *hoster) online(t time.Time) bool {
	if !h.removeAt.IsZero() && !t.Before(h.removeAt) {
		return false
	}
	if h.kind == KindFlap && h.flapPeriod > 0 {
		spell := (t.Sub(h.noticeAt) + h.flapPhase) / h.flapPeriod
		return spell%2 == 0
	}
	return true
}

// requests is how many HTTP requests a probe with the confirmed hash
// sends: HEAD, then a GET to hash the body when the HEAD found it
// (probe.Prober); a miss or a failure stops at the HEAD.
func requests(res probe.Result) int {
	if res.Verdict == probe.Online {
		return 2
	}
	return 1
}
