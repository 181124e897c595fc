package cadence

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// fixed is a policy whose checks are computable by hand: every n for the
// first 72 h (exact slots, no spread), at 72 h, daily after; removals
// confirmed by 3 misses 3 minutes apart.
func fixed(n time.Duration) Policy {
	cfg := config.Default().Recheck
	cfg.Early = config.Early{Every: n, Until: 72 * time.Hour}
	cfg.Cadence, cfg.Every = []time.Duration{72 * time.Hour}, 24*time.Hour
	cfg.Spread = 0
	cfg.ConfirmGone, cfg.ConfirmSpacing = 3, 3*time.Minute
	return Policy{Name: "fixed", Config: cfg}
}

func mix(t *testing.T, s string) []world.Share {
	t.Helper()
	m, err := ParseMix(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func near(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if d := got - want; d < -tol || d > tol {
		t.Errorf("%s = %s, want %s ± %s", what, got, want, tol)
	}
}

// With a check every n and removals uniform over 72 h, the removal falls
// uniformly between two checks: the first gone result comes U(0, n] after
// it and the confirmation 2 spacings later, so removal → confirmed is
// 6m + U(0, n]; the checks up to the confirmation are ⌈R/n⌉ + 2, 218.5 on
// average for n = 10m.
func TestFixedCadenceAgainstTheCalculation(t *testing.T) {
	t.Parallel()
	const n = 10 * time.Minute
	r, err := Run(t.Context(), Options{Cases: 4000, URLsPerHost: 1, Mix: mix(t, "remove=1"), Seed: 7}, fixed(n))
	if err != nil {
		t.Fatal(err)
	}
	if r.Confirmed != 4000 || r.Unconfirmed != 0 || r.Premature != 0 {
		t.Fatalf("confirmed %d, unconfirmed %d, premature %d of 4000", r.Confirmed, r.Unconfirmed, r.Premature)
	}
	// Quantile q of U(0, n]: q·n. With 4,000 draws the standard error of
	// the p90 is about 5 s, of the p99 2 s.
	const tol = 25 * time.Second
	near(t, "first gone p50", r.RemovalToFirstGone.P50, n/2, tol)
	near(t, "first gone p90", r.RemovalToFirstGone.P90, n*9/10, tol)
	near(t, "first gone p99", r.RemovalToFirstGone.P99, n*99/100, tol)
	near(t, "removal → confirmed p50", r.RemovalToConfirmed.P50, 6*time.Minute+n/2, tol)
	near(t, "removal → confirmed p90", r.RemovalToConfirmed.P90, 6*time.Minute+n*9/10, tol)
	near(t, "removal → confirmed p99", r.RemovalToConfirmed.P99, 6*time.Minute+n*99/100, tol)
	if r.RemovalToConfirmed.Max > 6*time.Minute+n {
		t.Errorf("removal → confirmed max %s, over 6m + %s", r.RemovalToConfirmed.Max, n)
	}
	// ⌈R/n⌉ for R uniform over 432 intervals averages 216.5 (sd 125, so
	// the mean of 4,000 is within ±6 at 3 standard errors).
	if math.Abs(r.ChecksToConfirm-218.5) > 6 {
		t.Errorf("checks up to a confirmed removal %.1f, want 218.5 ± 6", r.ChecksToConfirm)
	}
}

// Hosters that never remove are checked at every slot: 431 checks in the
// 72 h after each notice (10m … 71h50m; the one at 72h is after it), six
// an hour for every case in the busiest hour, two requests each (HEAD,
// then GET to hash what is online).
func TestFixedCadenceRates(t *testing.T) {
	t.Parallel()
	const cases, open = 1000, 1_000_000
	r, err := Run(t.Context(), Options{Cases: cases, Mix: mix(t, "never=1"), Open: open}, fixed(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.ChecksPerCase != 431 {
		t.Errorf("checks per case in 72 h: %.2f, want 431", r.ChecksPerCase)
	}
	if want := float64(open) * 6 / 3600; math.Abs(r.ChecksBusiestHour-want) > want/200 {
		t.Errorf("busiest hour %.1f checks/s, want %.1f", r.ChecksBusiestHour, want)
	}
	if math.Abs(r.RequestsBusiestHour-2*r.ChecksBusiestHour) > 1 {
		t.Errorf("busiest hour %.1f requests/s for %.1f checks/s, want two each", r.RequestsBusiestHour, r.ChecksBusiestHour)
	}
	// A case noticed u into the first hour has ⌊(72h − u)/10m⌋ slots in
	// the world's first 72 h, 432 − 3.5 on average over u.
	if want := float64(open) * 428.5 / (72 * 3600); math.Abs(r.Checks72h-want) > want/100 {
		t.Errorf("72 h average %.1f checks/s, want %.1f ± 1 %%", r.Checks72h, want)
	}
	if r.Confirmed != 0 || r.Removers != 0 {
		t.Errorf("%d removals confirmed of %d removers in a world that never removes", r.Confirmed, r.Removers)
	}
}

// A hoster flapping every minute never fools 3 misses 3 minutes apart
// (the third minute is always the other spell); one flapping every 25
// minutes can, and the "stays gone" check a day later reopens some. (A
// period that divides a day would not be caught by it: 24 h later the
// site is in the same spell as at the removal.)
func TestFlapping(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		period        time.Duration
		wantPremature bool
	}{{time.Minute, false}, {25 * time.Minute, true}} {
		r, err := Run(t.Context(), Options{Cases: 600, Mix: mix(t, "flap=1"), FlapPeriod: tt.period}, fixed(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Premature > 0; got != tt.wantPremature {
			t.Errorf("flap period %s: %d removals confirmed while flapping, want some: %v", tt.period, r.Premature, tt.wantPremature)
		}
		if tt.wantPremature && r.Reopened == 0 {
			t.Errorf("flap period %s: no case reopened after %d early confirmations", tt.period, r.Premature)
		}
		if r.Confirmed+r.Premature < r.Removers {
			t.Errorf("flap period %s: %d confirmed and %d early of %d removers", tt.period, r.Confirmed, r.Premature, r.Removers)
		}
	}
}

// A run is a function of its options: the same seed gives the same
// figures however many workers share it.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	o := Options{Cases: 600, URLsPerHost: 20, Inconclusive: 0.05, Removal: Field}
	var out []string
	for _, w := range []int{1, 3} {
		o.Workers = w
		r, err := Run(t.Context(), o, fixed(15*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if out[0] != out[1] {
		t.Errorf("one worker and three differ:\n%s\n%s", out[0], out[1])
	}
}

func TestPeak(t *testing.T) {
	t.Parallel()
	at := func(ms int) time.Time { return Start.Add(time.Duration(ms) * time.Millisecond) }
	hits := []hit{{at(0), 2}, {at(500), 1}, {at(999), 2}, {at(1000), 1}, {at(5000), 2}, {at(9999), 1}}
	for _, tt := range []struct {
		w    time.Duration
		want int
	}{{time.Millisecond, 2}, {time.Second, 5}, {10 * time.Second, 9}} {
		if got := peak(hits, tt.w); got != tt.want {
			t.Errorf("peak over %s = %d, want %d", tt.w, got, tt.want)
		}
	}
}

func TestShort(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 14*time.Minute + 30*time.Second: "14m30s", 15 * time.Minute: "15m",
		2 * time.Hour: "2h", time.Hour + 6*time.Minute: "1h06m", time.Hour + 6*time.Minute + 14*time.Second: "1h06m14s",
		72 * time.Hour: "72h", -3 * time.Minute: "-3m", 1499 * time.Millisecond: "1s",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestMixer(t *testing.T) {
	t.Parallel()
	m := newMixer(mix(t, "remove=92,flap=0,never=8"))
	for _, tt := range []struct {
		u    float64
		want string
	}{{0, KindRemove}, {0.5, KindRemove}, {0.92, KindNever}, {0.9999, KindNever}} {
		if got := m.pick(tt.u); got != tt.want {
			t.Errorf("pick(%v) = %s, want %s", tt.u, got, tt.want)
		}
	}
}

func TestParseDist(t *testing.T) {
	t.Parallel()
	d, err := ParseDist("1h=25,6h=30,24h=31,72h=14")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Bins) != 4 || d.Max() != 72*time.Hour {
		t.Errorf("bins %+v", d.Bins)
	}
	// u at a bin's start draws its lower bound, v the place inside.
	if got := d.draw(0.25, 0.5); got != time.Hour+150*time.Minute {
		t.Errorf("draw(0.25, 0.5) = %s, want 3h30m", got)
	}
	for _, bad := range []string{"", "1h", "6h=1,1h=1", "1h=-1", "0s=1", "1h=0"} {
		if _, err := ParseDist(bad); err == nil {
			t.Errorf("ParseDist(%q) accepted", bad)
		}
	}
	if _, err := ParseMix("remove=1,vanish=2"); err == nil || !strings.Contains(err.Error(), "vanish") {
		t.Errorf("ParseMix took an unknown behaviour: %v", err)
	}
}

// SCART's policy, written as takedownd configuration, is valid and says
// what the brief says SCART does.
func TestSCARTPolicy(t *testing.T) {
	t.Parallel()
	p, err := SCARTPolicy()
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config
	if p.BatchWindow != time.Hour || len(c.Cadence) != 1 || c.Cadence[0] != 2*time.Hour || c.Every != 2*time.Hour ||
		c.Early.Every != 0 || c.Spread != 0 || c.RecordUnchanged != 0 || c.ConfirmGone != 3 || c.ConfirmSpacing != 3*time.Minute ||
		c.Routes["hoster"].ReminderInterval != 24*time.Hour {
		t.Errorf("SCART's policy reads %s; batching %s", Describe(c), p.BatchWindow)
	}
	var buf bytes.Buffer
	r, err := Run(t.Context(), Options{Cases: 200}, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTable(&buf, []Result{r}); err != nil || !strings.Contains(buf.String(), "removal → confirmed p50") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
}
