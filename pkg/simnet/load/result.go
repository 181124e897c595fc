package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/world"
)

// Result is what a run measured and whether its invariants held.
type Result struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	World    struct {
		Hosts, Networks, Domains int
		Split, Mix               string
		Kinds                    map[string]int `json:"hosts_by_behaviour"`
		RDAPLatency              string         `json:"rdap_latency"`
	} `json:"world"`
	Reports   int `json:"reports"`
	URLs      int `json:"urls"`
	Published struct {
		Acked     int64   `json:"acked"`
		Seconds   float64 `json:"seconds"`
		PerSecond float64 `json:"per_second"`
		Retries   int64   `json:"retries"`
	} `json:"published"`
	// IntakePerSecond is the rate of cases opened or joined, from the
	// daemon's own event times.
	IntakePerSecond float64   `json:"intake_per_second"`
	FirstNotice     Quantiles `json:"confirmation_to_first_notice"`
	Noticed         int       `json:"urls_noticed"`
	// Reachable are the URLs a notice can reach (their host resolves);
	// WithinHour those of them first noticed within an hour of their
	// confirmation.
	Reachable  int `json:"urls_reachable"`
	WithinHour int `json:"urls_noticed_within_1h"`
	// Stages is each stage of the way to the first notice: the time a URL
	// spent in it, and when it left it, counted from the first report.
	Stages []StageTimes `json:"stages"`
	// Escalation is when the escalation chains (registrar, parent
	// network, AS) came in, counted from the first report.
	Escalation struct {
		Chains int64     `json:"chains"`
		Done   Quantiles `json:"done_since_start"`
	} `json:"escalation"`
	RDAP struct {
		Queries   int64              `json:"queries"`
		PerReport float64            `json:"per_report"`
		Servers   []world.PaceReport `json:"servers"`
	} `json:"rdap"`
	Notices struct {
		Total      int64            `json:"total"`
		ByKind     map[string]int64 `json:"by_kind"`
		Contacts   int              `json:"contacts"`
		PerContact struct {
			Min, Median, Max int64
			Mean             float64
		} `json:"per_contact"`
		Top      []ContactCount `json:"top"`
		Resent   int64          `json:"resent_same_reference"`
		Rerouted int64          `json:"first_to_another_contact"`
	} `json:"notices"`
	// Relay is what the world's mail relay saw: connections, and commands
	// it answered 4xx on purpose (fault runs).
	Relay struct {
		Connections  int   `json:"connections"`
		TempFailures int64 `json:"temp_failures"`
	} `json:"relay"`
	Removal         Quantiles      `json:"removal_to_confirmed_removal"`
	RemovedByWorld  int            `json:"removed_by_hosters"`
	RemovedInSpells int64          `json:"removals_in_flap_spells"`
	States          map[string]int `json:"states"`
	Stuck           map[string]int `json:"stuck"`
	Settled         bool           `json:"settled"`
	Daemons         []DaemonStat   `json:"daemons"`
	Steps           []string       `json:"steps"`
	Invariants      []Invariant    `json:"invariants"`
	Seconds         float64        `json:"seconds"`
	// CensusError says why the daemon's own account of its cases could
	// not be read at the end: the states, the stuck cases and the
	// invariants drawn from them are then unknown.
	CensusError string `json:"census_error,omitempty"`
	// Census is how many of the daemon's cases the census read, and in
	// how long: at a million cases it is the slowest part of a run's end.
	Census struct {
		Cases   int     `json:"cases"`
		Seconds float64 `json:"seconds"`
	} `json:"census"`
	// Load is the machine's one-minute load average over the run (the
	// figures above are only as good as the share of the cores the run
	// had).
	Load struct {
		Mean float64 `json:"mean"`
		Max  float64 `json:"max"`
	} `json:"load_average"`
}

// StageTimes is one stage of the way to the first notice.
type StageTimes struct {
	Stage string    `json:"stage"`
	In    Quantiles `json:"time_in_stage"`
	Done  Quantiles `json:"done_since_start"`
	// PerSecond is the URLs that left the stage over the time from the
	// first report to the last that left it.
	PerSecond float64 `json:"per_second"`
}

// ContactCount is one contact and its notices.
type ContactCount struct {
	Contact string `json:"contact"`
	Notices int64  `json:"notices"`
}

// DaemonStat is one daemon process.
type DaemonStat struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Starts  int    `json:"starts"`
	MaxRSS  int64  `json:"max_rss_bytes"`
	LastRSS int64  `json:"last_rss_bytes"`
	// CPUSeconds is the CPU time its processes used (user and system).
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Invariant is one property every run must keep.
type Invariant struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
	OK    bool   `json:"ok"`
	// Unknown is an invariant that could not be checked (the census
	// failed); it counts as broken.
	Unknown bool `json:"unknown,omitempty"`
}

// Broken lists the invariants that did not hold.
func (r *Result) Broken() []Invariant {
	var out []Invariant
	for _, iv := range r.Invariants {
		if !iv.OK {
			out = append(out, iv)
		}
	}
	return out
}

func (r *Run) result(ctx context.Context, started, published time.Time, settled bool) (*Result, error) {
	token, err := os.ReadFile(filepath.Join(r.daemons[0].dataDir, "api-token"))
	if err != nil {
		return nil, fmt.Errorf("read the daemon's api token: %w", err)
	}
	// A census the daemon could not answer (at a million cases, under
	// load) must not take the run's other figures with it: they are
	// printed, and the invariants only the census can check are broken.
	censusCtx := ctx
	if r.opts.CensusWithin > 0 {
		var cancel context.CancelFunc
		censusCtx, cancel = context.WithTimeout(ctx, r.opts.CensusWithin)
		defer cancel()
	}
	censusStart := time.Now()
	cs, censusErr := takeCensus(censusCtx, r.daemons[0].api, strings.TrimSpace(string(token)), r.st, r.opts.StuckAfter, censusStart)
	censusTook := time.Since(censusStart)
	if censusErr != nil && ctx.Err() == nil && censusCtx.Err() != nil {
		censusErr = fmt.Errorf("not finished within -census-within %s (%d cases read): %w", r.opts.CensusWithin, cs.cases, censusErr)
	}
	res := &Result{Scenario: or(r.opts.Scenario, "load"), Started: started, Reports: r.opts.Reports, URLs: r.pub.urls, Settled: settled}
	if censusErr != nil {
		res.CensusError = censusErr.Error()
	}
	res.Census.Cases, res.Census.Seconds = cs.cases, censusTook.Seconds()
	pl := r.World.Plan()
	res.World.Hosts, res.World.Networks, res.World.Domains = pl.Hosts, pl.Networks, pl.Domains
	res.World.Split, res.World.Mix = shares(pl.Split), shares(pl.Mix)
	res.World.Kinds = r.World.KindCounts()
	res.World.RDAPLatency = r.opts.World.RDAPLatency.String()
	st := r.st
	st.mu.Lock()
	res.Published.Acked = st.nAcked.Load()
	res.Published.Seconds = published.Sub(started).Seconds()
	if res.Published.Seconds > 0 {
		res.Published.PerSecond = float64(res.Published.Acked) / res.Published.Seconds
	}
	res.Published.Retries = r.pub.retries
	if d := st.inLast.Sub(st.inFirst).Seconds(); d > 0 {
		res.IntakePerSecond = float64(st.received+st.joined) / d
	}
	res.FirstNotice = st.noticeDelay.summary()
	res.Noticed = int(st.noticeDelay.n)
	res.WithinHour = int(st.withinHour)
	for i := range nStages {
		t := StageTimes{Stage: stageNames[i], In: st.stageDelay[i].summary(), Done: st.stageDone[i].summary()}
		if t.Done.Max > 0 {
			t.PerSecond = float64(t.Done.N) / t.Done.Max.Seconds()
		}
		res.Stages = append(res.Stages, t)
	}
	res.Escalation.Chains, res.Escalation.Done = st.chains, st.chainDone.summary()
	res.Removal = st.removalDelay.summary()
	res.RemovedInSpells = st.spellRem
	res.Notices.Total = st.notices
	res.Notices.ByKind = map[string]int64{}
	for k, v := range st.byKind {
		res.Notices.ByKind[k] = v
	}
	res.Notices.Resent, res.Notices.Rerouted = st.resent, st.rerouted
	counts := make([]ContactCount, 0, len(st.perContact))
	for c, n := range st.perContact {
		counts = append(counts, ContactCount{c, n})
	}
	dupFirst, falseRem := st.dupFirst, st.falseRem
	st.mu.Unlock()
	sort.Slice(counts, func(i, j int) bool {
		return counts[i].Notices > counts[j].Notices || counts[i].Notices == counts[j].Notices && counts[i].Contact < counts[j].Contact
	})
	res.Notices.Contacts = len(counts)
	if len(counts) > 0 {
		var sum int64
		for _, c := range counts {
			sum += c.Notices
		}
		res.Notices.PerContact.Max, res.Notices.PerContact.Min = counts[0].Notices, counts[len(counts)-1].Notices
		res.Notices.PerContact.Median = counts[len(counts)/2].Notices
		res.Notices.PerContact.Mean = float64(sum) / float64(len(counts))
		res.Notices.Top = counts[:min(5, len(counts))]
	}
	for n := range r.pub.urls {
		if _, ok := r.World.RemovedAtN(st.host(n), n); ok {
			res.RemovedByWorld++
		}
		if r.World.ResolvesN(st.host(n)) {
			res.Reachable++
		}
	}
	res.Relay.Connections, res.Relay.TempFailures = r.World.Relay.Connections(), r.World.Relay.TempFailures()
	res.RDAP.Servers = r.World.Pace().Report()
	var tooFast, early int64
	for _, p := range res.RDAP.Servers {
		res.RDAP.Queries += p.Requests
		tooFast += p.TooFast
		early += p.Early
	}
	res.RDAP.PerReport = float64(res.RDAP.Queries) / float64(max(r.opts.Reports, 1))
	res.States, res.Stuck = cs.states, cs.stuck
	var stuck int64
	for _, n := range cs.stuck {
		stuck += int64(n)
	}
	for _, d := range r.daemons {
		d.sampleRSS()
		d.mu.Lock()
		ds := DaemonStat{Name: d.name, PID: d.pid, Starts: d.starts, MaxRSS: d.maxRSS, LastRSS: d.lastRSS}
		d.mu.Unlock()
		ds.CPUSeconds = d.cpuSeconds()
		res.Daemons = append(res.Daemons, ds)
	}
	r.mu.Lock()
	res.Steps = append([]string(nil), r.done...)
	if r.loadN > 0 {
		res.Load.Mean, res.Load.Max = r.loadSum/float64(r.loadN), r.loadMax
	}
	r.mu.Unlock()
	res.Invariants = []Invariant{
		{Name: "reports lost (acknowledged, in no case)", Value: int64(cs.lost)},
		{Name: "reports in more than one case", Value: int64(cs.doubledRep)},
		{Name: "URLs with more than one open case", Value: int64(cs.doubledCase)},
		{Name: "cases stuck", Value: stuck},
		{Name: "second first notices to the same contact", Value: dupFirst},
		{Name: "removals confirmed while the material was online", Value: falseRem},
		{Name: "RDAP requests faster than the server's limit", Value: tooFast},
		{Name: "RDAP requests before the server's Retry-After", Value: early},
	}
	for i := range res.Invariants {
		res.Invariants[i].OK = res.Invariants[i].Value == 0
		if censusErr != nil && i < 4 { // lost, doubled, doubled open, stuck: from the census
			res.Invariants[i].OK, res.Invariants[i].Unknown = false, true
		}
	}
	res.Seconds = time.Since(started).Seconds()
	return res, nil
}

func shares(ss []world.Share) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s=%g", s.Name, s.Weight)
	}
	return strings.Join(out, ",")
}

// WriteJSON writes the result to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// Print writes the result for a person.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "takedownsim %s: %d reports of %d URLs over %d hosts, %d networks (%s), %d domains; RDAP latency %s\n",
		r.Scenario, r.Reports, r.URLs, r.World.Hosts, r.World.Networks, r.World.Split, r.World.Domains, r.World.RDAPLatency)
	fmt.Fprintf(w, "  hosts by behaviour: %s; run %.0fs\n\n", counts(r.World.Kinds), r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "reports in\t%.0f/s published and acknowledged (%d retries); %.0f/s taken into cases\n", r.Published.PerSecond, r.Published.Retries, r.IntakePerSecond)
	fmt.Fprintf(tw, "confirmation -> first notice\t%s (%d of %d URLs)\n", quant(r.FirstNotice), r.Noticed, r.URLs)
	fmt.Fprintf(tw, "  noticed within 1 h\t%d of %d reachable URLs (%.2f %%)\n", r.WithinHour, r.Reachable, 100*float64(r.WithinHour)/float64(max(r.Reachable, 1)))
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "  %s\tin it %s; done since start %s (%.0f URLs/s)\n", s.Stage, quant(s.In), quant(s.Done), s.PerSecond)
	}
	fmt.Fprintf(tw, "escalation chains\t%d; done since start %s\n", r.Escalation.Chains, quant(r.Escalation.Done))
	fmt.Fprintf(tw, "RDAP queries\t%d, %.2f per report\n", r.RDAP.Queries, r.RDAP.PerReport)
	for _, p := range r.RDAP.Servers {
		fmt.Fprintf(tw, "  %s\t%d (limit %g/min, burst %d; 429/503 %d, dropped %d, too fast %d, early %d)\n",
			p.Server, p.Requests, p.PerMinute, p.Burst, p.Limited, p.Dropped, p.TooFast, p.Early)
		for _, e := range p.Examples {
			fmt.Fprintf(tw, "  \t  %s\n", e)
		}
	}
	fmt.Fprintf(tw, "notices\t%d to %d contacts (%s); per contact min %d, median %d, mean %.1f, max %d\n",
		r.Notices.Total, r.Notices.Contacts, counts(r.Notices.ByKind), r.Notices.PerContact.Min, r.Notices.PerContact.Median, r.Notices.PerContact.Mean, r.Notices.PerContact.Max)
	fmt.Fprintf(tw, "  relay\t%d connections, %d commands answered 4xx on purpose\n", r.Relay.Connections, r.Relay.TempFailures)
	fmt.Fprintf(tw, "  same notice again\t%d (a resend with the same reference)\n", r.Notices.Resent)
	fmt.Fprintf(tw, "  first notice to another contact\t%d (re-routed: moved abroad, CDN, bounce)\n", r.Notices.Rerouted)
	fmt.Fprintf(tw, "removal -> confirmed removal\t%s (%d removed by the hosters)\n", quant(r.Removal), r.RemovedByWorld)
	fmt.Fprintf(tw, "  confirmed in a flap spell\t%d\n", r.RemovedInSpells)
	fmt.Fprintf(tw, "cases by state\t%s\n", counts(r.States))
	fmt.Fprintf(tw, "cases stuck\t%s\n", counts(r.Stuck))
	fmt.Fprintf(tw, "census\t%d cases read through the API in %s (%.0f/s)\n", r.Census.Cases,
		(time.Duration(r.Census.Seconds * float64(time.Second))).Round(100*time.Millisecond), float64(r.Census.Cases)/max(r.Census.Seconds, 1e-3))
	for _, d := range r.Daemons {
		fmt.Fprintf(tw, "%s\tpid %d, started %d×, RSS max %d MiB, at the end %d MiB; CPU %.0f s (%.2f ms per URL)\n",
			d.Name, d.PID, d.Starts, d.MaxRSS>>20, d.LastRSS>>20, d.CPUSeconds, 1000*d.CPUSeconds/float64(max(r.URLs, 1)))
	}
	fmt.Fprintf(tw, "machine\tload average over the run: mean %.1f, max %.1f\n", r.Load.Mean, r.Load.Max)
	_ = tw.Flush()
	if len(r.Steps) > 0 {
		fmt.Fprintln(w, "\nsteps:")
		for _, s := range r.Steps {
			fmt.Fprintln(w, "  "+s)
		}
	}
	if !r.Settled {
		fmt.Fprintln(w, "\nthe run did not settle within the bound: not every URL was noticed, or not every removal confirmed")
	}
	if r.CensusError != "" {
		fmt.Fprintln(w, "\nthe census of the daemon's cases failed, so the states, the stuck cases and their invariants are unknown:\n  "+r.CensusError)
	}
	fmt.Fprintln(w, "\ninvariants:")
	for _, iv := range r.Invariants {
		mark, value := "ok    ", fmt.Sprint(iv.Value)
		switch {
		case iv.Unknown:
			mark, value = "UNKNOWN", "-"
		case !iv.OK:
			mark = "BROKEN"
		}
		fmt.Fprintf(w, "  %-7s %-50s %s\n", mark, iv.Name, value)
	}
}

func quant(q Quantiles) string {
	if q.N == 0 {
		return "none"
	}
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", r(q.P50), r(q.P90), r(q.P99), r(q.Max))
}

// counts writes a map of counts as "a 1, b 2", sorted by name.
func counts[V int | int64](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(out, ", ")
}
