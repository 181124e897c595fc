package cadence

import (
	"testing"
	"time"
)

// The daemon's default cadence meets issue 12's target in a small seeded
// world shaped like the load tool's (50 URLs per hoster, removals uniform
// over the 72 h after the notice, a few flapping and never-removing
// hosters): removal → confirmed p90 ≤ 20 minutes, every removal
// confirmed, none while the material still came back. The figures are
// virtual time, the same on every machine.
func TestDefaultPolicyConfirmsWithin20Minutes(t *testing.T) {
	t.Parallel()
	const cases, open = 2000, 1_000_000
	r, err := Run(t.Context(), Options{Cases: cases, Seed: 12, Open: open}, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if r.Removers < cases*9/10 || r.Confirmed != r.Removers || r.Unconfirmed != 0 || r.Premature != 0 {
		t.Fatalf("%d of %d removers confirmed, %d unconfirmed, %d while flapping", r.Confirmed, r.Removers, r.Unconfirmed, r.Premature)
	}
	if p90 := r.RemovalToConfirmed.P90; p90 > 20*time.Minute {
		t.Errorf("removal → confirmed p90 %s, over 20m", p90)
	}
	// The next check within 10 minutes, two more misses 3 minutes apart.
	if m := r.RemovalToConfirmed.Max; m > 16*time.Minute {
		t.Errorf("removal → confirmed max %s, over 10m + 2 × 3m", m)
	}
	// No hoster sees more than its per-host limit lets through in any
	// second, ten seconds or minute: the spread keeps the URLs of one
	// notice apart.
	h := r.PerHost
	for _, w := range []struct {
		name string
		got  int
		secs float64
	}{{"1s", h.Peak1s, 1}, {"10s", h.Peak10s, 10}, {"1m", h.Peak1m, 60}} {
		if allowed := int(h.Rate*w.secs) + h.Burst; w.got > allowed {
			t.Errorf("a hoster saw %d requests in %s, its limit lets %d through", w.got, w.name, allowed)
		}
	}
	// An unchanged online check stays off the timeline: a case writes a
	// few "checked" events a day, not the 144 checks it has.
	if r.ChecksPerCase < 100 || r.EventsPerCase > 20 {
		t.Errorf("%.1f checks and %.1f timeline events per case in 72 h; want the checks off the timeline", r.ChecksPerCase, r.EventsPerCase)
	}
	// Six checks an hour per open case at most, and the confirmations:
	// 1,000,000 open cases need under 2,000 checks/s in the busiest hour.
	if r.ChecksBusiestHour > 2000 {
		t.Errorf("busiest hour %.0f checks/s for %d open cases", r.ChecksBusiestHour, open)
	}
}

// No removal is confirmed while a hoster still flaps with spells that the
// default confirmation (3 misses 3 minutes apart) is built against: the
// load tool's (1 minute), the demo world's flapping site (2 minutes), and
// spells from 3 to 5 minutes. Each flapping site removes for good within
// the 72 h, and that removal is confirmed. (Spells of 30 s or 90 s, whose
// double divides 3 minutes, and spells over 6 minutes do fool it; the
// README's Re-check cadence section shows by how much.)
func TestDefaultPolicyNotFooledByFlapping(t *testing.T) {
	t.Parallel()
	for _, period := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute} {
		r, err := Run(t.Context(), Options{Cases: 400, Mix: mix(t, "flap=1"), FlapPeriod: period, Seed: 12}, DefaultPolicy())
		if err != nil {
			t.Fatal(err)
		}
		if r.Premature != 0 || r.Reopened != 0 {
			t.Errorf("spells of %s: %d removals confirmed while flapping, %d cases reopened", period, r.Premature, r.Reopened)
		}
		if r.Confirmed != r.Removers || r.Removers != 400 {
			t.Errorf("spells of %s: %d of %d removals confirmed", period, r.Confirmed, r.Removers)
		}
		if p90 := r.RemovalToConfirmed.P90; p90 > 20*time.Minute {
			t.Errorf("spells of %s: removal → confirmed p90 %s, over 20m", period, p90)
		}
	}
}

// Spells of 30 s fool 3 misses 3 minutes apart (the misses fall a whole
// number of minutes apart, all in the same phase), and a "stays gone"
// check a whole number of days later would find the same phase again.
// Shifted by an offset of its own, the check a day after the removal
// finds the material back in a good share of the cases, and reopens them.
func TestDefaultPolicyReopensWhatFlappingFooled(t *testing.T) {
	t.Parallel()
	r, err := Run(t.Context(), Options{Cases: 400, Mix: mix(t, "flap=1"), FlapPeriod: 30 * time.Second, Seed: 12}, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if r.Premature == 0 {
		t.Fatalf("no removal confirmed while flapping in 30 s spells: the test no longer shows the reopening")
	}
	if r.Reopened < r.Premature/5 {
		t.Errorf("%d cases reopened of %d removals confirmed while flapping", r.Reopened, r.Premature)
	}
}
