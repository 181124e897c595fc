package cadence

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Result is what one policy came to in the simulated world.
type Result struct {
	Policy string `json:"policy"`
	// Cadence describes the re-check configuration.
	Cadence     string `json:"cadence"`
	BatchWindow string `json:"batch_window"`
	// World describes the options it ran with.
	World string `json:"world"`

	Cases       int `json:"cases"`
	Hosts       int `json:"hosts"`
	Removers    int `json:"removers"`
	Confirmed   int `json:"confirmed"`
	Premature   int `json:"confirmed_while_flapping"`
	Reopened    int `json:"reopened"`
	Unconfirmed int `json:"unconfirmed"`

	// RemovalToConfirmed runs from the hoster's removal to the confirmed
	// removal; RemovalToFirstGone to the first gone result of the
	// confirming streak (the removal time the case records).
	RemovalToConfirmed Percentiles `json:"removal_to_confirmed"`
	RemovalToFirstGone Percentiles `json:"removal_to_first_gone"`

	// ChecksPerCase and EventsPerCase count the checks in the 72 h after
	// each notice, and the timeline events they wrote.
	ChecksPerCase   float64 `json:"checks_per_case_72h"`
	EventsPerCase   float64 `json:"timeline_events_per_case_72h"`
	ChecksToConfirm float64 `json:"checks_per_confirmed_removal"`
	// StepsPerCase are reminders and escalations; StepLag the longest any
	// waited past its due time (the notice + n reminder intervals).
	StepsPerCase float64       `json:"reminders_per_case"`
	StepLag      time.Duration `json:"-"`
	StepLagS     float64       `json:"reminder_lag_max_s"`

	// The rates are scaled to Open open cases.
	Open                int     `json:"open_cases"`
	ChecksBusiestHour   float64 `json:"checks_per_s_busiest_hour"`
	Checks72h           float64 `json:"checks_per_s_72h"`
	RequestsBusiestHour float64 `json:"requests_per_s_busiest_hour"`
	Requests72h         float64 `json:"requests_per_s_72h"`

	// PerHost is what one hoster with URLsPerHost URLs sees.
	PerHost HostLoad `json:"per_host"`
}

// HostLoad is the load on one hoster.
type HostLoad struct {
	URLs int `json:"urls"`
	// RequestsBusiestHour is the mean over hosters in the busiest hour.
	RequestsBusiestHour float64 `json:"requests_per_s_busiest_hour"`
	// Peak1s, Peak10s and Peak1m are the most requests any hoster saw in
	// one second, ten seconds and one minute.
	Peak1s  int `json:"peak_requests_1s"`
	Peak10s int `json:"peak_requests_10s"`
	Peak1m  int `json:"peak_requests_1m"`
	// Rate and Burst are recheck.probe.per_host_rate and _burst.
	Rate  float64 `json:"per_host_rate"`
	Burst int     `json:"per_host_burst"`
}

// MarshalJSON writes the percentiles in seconds.
func (p Percentiles) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]float64{
		"p50_s": p.P50.Seconds(), "p90_s": p.P90.Seconds(), "p99_s": p.P99.Seconds(), "max_s": p.Max.Seconds(),
	})
}

func (a *acc) result(o Options, pol Policy) Result {
	scale := float64(o.Open) / float64(max(a.cases, 1))
	per := func(n int64) float64 { return float64(n) / float64(max(a.cases, 1)) }
	r := Result{
		Policy: pol.Name, Cadence: Describe(pol.Config), BatchWindow: short(pol.BatchWindow), World: o.describe(),
		Cases: a.cases, Hosts: a.hosts, Removers: a.removers, Confirmed: a.confirmed, Premature: a.premature,
		Reopened: a.reopened, Unconfirmed: a.unconfirmed,
		RemovalToConfirmed: percentiles(a.delays), RemovalToFirstGone: percentiles(a.detects),
		ChecksPerCase: per(a.checks72), EventsPerCase: per(a.events72), StepsPerCase: per(a.steps),
		StepLag: a.stepLag, StepLagS: a.stepLag.Seconds(),
		Open:              o.Open,
		ChecksBusiestHour: busiestHour(a.perMinute) * scale, Checks72h: average(a.perMinute, window) * scale,
		RequestsBusiestHour: busiestHour(a.reqPerMinute) * scale, Requests72h: average(a.reqPerMinute, window) * scale,
	}
	if a.confirmed > 0 {
		r.ChecksToConfirm = float64(a.checksToConfirm) / float64(a.confirmed)
	}
	r.PerHost = HostLoad{
		URLs:                o.URLsPerHost,
		RequestsBusiestHour: busiestHour(a.reqPerMinute) / float64(max(a.hosts, 1)),
		Peak1s:              a.hostPeak[0], Peak10s: a.hostPeak[1], Peak1m: a.hostPeak[2],
		Rate: pol.Config.Probe.PerHostRate, Burst: pol.Config.Probe.PerHostBurst,
	}
	return r
}

func (o Options) describe() string {
	var mix []string
	for _, s := range o.Mix {
		mix = append(mix, fmt.Sprintf("%s=%g", s.Name, s.Weight))
	}
	w := fmt.Sprintf("%d cases on %d URLs per hoster, noticed over %s; removal %s; mix %s; flap period %s",
		o.Cases, o.URLsPerHost, short(o.NoticeSpread), o.Removal.Name, strings.Join(mix, ","), short(o.FlapPeriod))
	if o.Inconclusive > 0 {
		w += fmt.Sprintf("; %.1f %% of probes inconclusive", 100*o.Inconclusive)
	}
	return w + fmt.Sprintf("; horizon %s; seed %d", short(o.Horizon), o.Seed)
}

// Describe is a one-line account of a re-check configuration's cadence.
func Describe(r config.Recheck) string {
	var parts []string
	if r.Early.Every > 0 {
		parts = append(parts, fmt.Sprintf("every %s for %s", short(r.Early.Every), short(r.Early.Until)))
	}
	offs := make([]string, len(r.Cadence))
	for i, d := range r.Cadence {
		offs[i] = short(d)
	}
	parts = append(parts, fmt.Sprintf("at %s, then every %s", strings.Join(offs, ", "), short(r.Every)))
	parts = append(parts, fmt.Sprintf("%d misses %s apart", r.ConfirmGone, short(r.ConfirmSpacing)))
	if e, ok := r.Routes[takedown.RouteHoster]; ok {
		parts = append(parts, fmt.Sprintf("reminders every %s", short(e.ReminderInterval)))
	}
	return strings.Join(parts, "; ")
}

// WriteTable prints results side by side, one column per policy.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	row := func(name string, f func(Result) string) {
		cells := []string{name}
		for _, r := range rs {
			cells = append(cells, f(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	pct := func(p func(Result) Percentiles) func(Result) string {
		return func(r Result) string {
			q := p(r)
			return fmt.Sprintf("%s / %s / %s", short(q.P50), short(q.P90), short(q.P99))
		}
	}
	row("", func(r Result) string { return r.Policy })
	row("removal → confirmed p50 / p90 / p99", pct(func(r Result) Percentiles { return r.RemovalToConfirmed }))
	row("removal → confirmed max", func(r Result) string { return short(r.RemovalToConfirmed.Max) })
	row("removal → first gone check p50 / p90 / p99", pct(func(r Result) Percentiles { return r.RemovalToFirstGone }))
	row("removals confirmed / by hosters that remove", func(r Result) string { return fmt.Sprintf("%d / %d", r.Confirmed, r.Removers) })
	row("confirmed while still flapping (reopened later)", func(r Result) string { return fmt.Sprintf("%d (%d)", r.Premature, r.Reopened) })
	row("not confirmed in the horizon", func(r Result) string { return fmt.Sprint(r.Unconfirmed) })
	row("checks per case, 72 h after the notice", func(r Result) string { return fmt.Sprintf("%.1f", r.ChecksPerCase) })
	row("checks up to a confirmed removal", func(r Result) string { return fmt.Sprintf("%.1f", r.ChecksToConfirm) })
	row("timeline events per case, 72 h", func(r Result) string { return fmt.Sprintf("%.1f", r.EventsPerCase) })
	row("reminders and escalations per case", func(r Result) string { return fmt.Sprintf("%.2f", r.StepsPerCase) })
	row("longest reminder wait past its due time", func(r Result) string { return short(r.StepLag) })
	row(fmt.Sprintf("checks/s for %s open cases, busiest hour", thousands(rs[0].Open)), func(r Result) string { return fmt.Sprintf("%.0f", r.ChecksBusiestHour) })
	row("  averaged over the 72 h", func(r Result) string { return fmt.Sprintf("%.0f", r.Checks72h) })
	row("HTTP requests/s (HEAD, GET to hash), busiest hour", func(r Result) string { return fmt.Sprintf("%.0f", r.RequestsBusiestHour) })
	row("  averaged over the 72 h", func(r Result) string { return fmt.Sprintf("%.0f", r.Requests72h) })
	row("per hoster: URLs", func(r Result) string { return fmt.Sprint(r.PerHost.URLs) })
	row("per hoster: requests/s, busiest hour (mean)", func(r Result) string { return fmt.Sprintf("%.3f", r.PerHost.RequestsBusiestHour) })
	row("per hoster: most requests in 1 s / 10 s / 1 min", func(r Result) string {
		return fmt.Sprintf("%d / %d / %d", r.PerHost.Peak1s, r.PerHost.Peak10s, r.PerHost.Peak1m)
	})
	row("  allowed (per_host_rate × window + per_host_burst)", func(r Result) string {
		h := r.PerHost
		if h.Rate < 0 {
			return "unlimited"
		}
		allow := func(d time.Duration) int { return int(h.Rate*d.Seconds()) + h.Burst }
		return fmt.Sprintf("%d / %d / %d", allow(time.Second), allow(10*time.Second), allow(time.Minute))
	})
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "%s: %s; batching window %s\n", r.Policy, r.Cadence, r.BatchWindow)
	}
	fmt.Fprintf(w, "world: %s\n", rs[0].World)
	return nil
}

// short prints a duration to the second without zero units: 14m30s,
// 2h, 1h06m, 1h06m14s.
func short(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	h, m, sec := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case h > 0 && m == 0 && sec == 0:
		return fmt.Sprintf("%s%dh", sign, h)
	case h > 0 && sec == 0:
		return fmt.Sprintf("%s%dh%02dm", sign, h, m)
	case h > 0:
		return fmt.Sprintf("%s%dh%02dm%02ds", sign, h, m, sec)
	case m > 0 && sec == 0:
		return fmt.Sprintf("%s%dm", sign, m)
	case m > 0:
		return fmt.Sprintf("%s%dm%02ds", sign, m, sec)
	}
	return fmt.Sprintf("%s%ds", sign, sec)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
