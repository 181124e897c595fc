package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/intake"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/simnet/world"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// clusterReports is the size of the cluster test. The default keeps it
// to a minute or two of a busy CI machine; the bar is 2,000:
//
//	go test -run TestCluster -cluster-reports 2000 -timeout 60m ./pkg/app
var clusterReports = flag.Int("cluster-reports", 240, "reports TestClusterNoCaseFallsOut publishes in each of its runs")

// TestClusterNoCaseFallsOut runs two daemon replicas against a three-node
// R3 JetStream cluster and the simulated world (pkg/simnet/world: hosters
// on networks at every RIR, with their abuse contacts, a CDN, a partner
// hotline, hosts that move abroad), publishes reports over many hosts
// and contacts with a short batching window, and waits — by polling,
// never by sleeping — until the pipeline is quiet. Then no case waits in
// received, enriched or routed, every noticed or forwarded case has its
// pending check, every notice record has its final outcome, and no URL
// was in two first notices to one contact. The second run stops a NATS
// node and a replica while the reports are being worked on.
func TestClusterNoCaseFallsOut(t *testing.T) {
	// Not parallel: the partner hotline's webhook secret is read from the
	// environment.
	if testing.Short() {
		t.Skip("a cluster of three nodes and two replicas: not in -short")
	}
	for _, tt := range []struct {
		name string
		stop bool
	}{{"all up", false}, {"a node and a replica stopped mid-run", true}} {
		t.Run(tt.name, func(t *testing.T) { runCluster(t, *clusterReports, tt.stop) })
	}
}

// clusterReplica is one daemon of the cluster run.
type clusterReplica struct {
	t    *testing.T
	app  *App
	stop context.CancelFunc
	done chan error
}

func startReplica(t *testing.T, cfg config.Config) *clusterReplica {
	t.Helper()
	a, err := New(t.Context(), Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start replica: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &clusterReplica{t: t, app: a, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(r.shutdown)
	return r
}

// shutdown stops the replica (once) and checks that it stopped cleanly.
func (r *clusterReplica) shutdown() {
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	if err := <-r.done; err != nil {
		r.t.Errorf("replica stopped with %v", err)
	}
}

func runCluster(t *testing.T, reports int, stopMidRun bool) {
	c := natstest.StartCluster(t, 3)
	w := startClusterWorld(t, reports)
	t.Setenv(world.PartnerSecretEnv, w.PartnerSecret())

	// Every first notice and forward as it reached the world.
	var mu sync.Mutex
	firsts := map[string]map[string]bool{} // contact + URL -> notice refs
	w.Watch(func(n world.Notice) {
		if n.Kind != "first" && n.Kind != "forward" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, to := range n.To {
			for _, it := range n.Items {
				k := strings.ToLower(to) + " " + it.URL
				if firsts[k] == nil {
					firsts[k] = map[string]bool{}
				}
				firsts[k][n.Ref] = true
			}
		}
	})

	base := clusterConfig(t, w, c)
	var replicas []*clusterReplica
	for i := range 2 {
		cfg := base
		cfg.DataDir = filepath.Join(t.TempDir(), fmt.Sprintf("replica-%d", i))
		replicas = append(replicas, startReplica(t, cfg))
	}
	st := replicas[0].app.Store()
	client := c.Connect()

	// About one URL in ten is reported twice: the second report joins the
	// case of the first.
	distinct := reports - reports/10
	hosts := w.Plan().Hosts
	payloads := make([][]byte, reports)
	for i := range reports {
		n := i % distinct
		u := world.URL(w.Host(n%hosts), n)
		payloads[i] = mustJSON(t, map[string]any{
			"report_id": fmt.Sprintf("cluster-%d", i), "url": u, "confirmed_at": time.Now().UTC().Format(time.RFC3339),
			"classification": "A1", "hashes": map[string]string{"sha256": world.ContentSHA256(u)},
		})
	}
	half := reports / 2
	publishRange(t, client.JS, "cluster-%d", payloads, 0, half)
	if stopMidRun {
		// Mid-run: once the first half is being worked on, one NATS node
		// and one replica go away, and the second half comes in.
		waitCases(t, st, half/2)
		c.Stop(c.Len() - 1)
		replicas[1].shutdown()
		t.Logf("stopped node %d and replica 1 after %d cases", c.Len()-1, countCases(t, st))
	}
	publishRange(t, client.JS, "cluster-%d", payloads, half, reports)

	q := waitQuiet(t, client.JS, st, 10*time.Minute)
	t.Logf("quiet: %s", q)
	wantOneCasePerReport(t, st, "cluster-%d", reports, distinct)
	checkCluster(t, replicas[0].app, q)
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for k, refs := range firsts {
		if len(refs) > 1 {
			twice++
			if twice <= 5 {
				t.Errorf("%s was in %d first notices: %v", k, len(refs), keys(refs))
			}
		}
	}
	if twice > 0 {
		t.Errorf("%d URLs were in two first notices to one contact", twice)
	}
	if len(firsts) == 0 {
		t.Error("no first notice reached the world")
	}
}

// startClusterWorld is the simulated world for the run: hosts over many
// networks (each with its abuse contact) and domains, with the default
// mix of behaviours, and RDAP limits loose enough that a cold cache does
// not set the pace.
func startClusterWorld(t *testing.T, reports int) *world.World {
	t.Helper()
	loose := config.RDAPLimit{PerMinute: 600_000, Burst: 1_000}
	w, err := world.Start(t.Context(), world.Options{
		Dir: t.TempDir(), Listen: world.FreeAddrs, URLs: reports,
		Plan: world.Plan{
			Hosts: max(reports/4, 24), Networks: max(reports/8, 12), Domains: max(reports/10, 10),
			Split: world.DefaultSplit, Mix: world.DefaultMix, RemoveAfter: [2]time.Duration{time.Hour, 2 * time.Hour},
		},
		RDAPLimits: map[string]config.RDAPLimit{}, RDAPDefault: loose,
	})
	if err != nil {
		t.Fatalf("start world: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

// clusterConfig is a replica's configuration as the world writes it,
// pointed at the cluster with R3, a short batching window, and re-checks
// far apart (the run is about every case getting its next step, not about
// removals).
func clusterConfig(t *testing.T, w *world.World, c *natstest.Cluster) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "takedownd.yaml")
	if err := w.WriteConfig(path, world.Daemon{
		DataDir: t.TempDir(), APIListen: "127.0.0.1:0",
		NATSURLs: strings.Split(c.URLs(), ","), Replicas: 3,
		BatchWindow: time.Second, Cadence: []time.Duration{time.Hour},
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(world.PartnerSecretEnv, w.PartnerSecret())
	cfg, err := LoadConfig(path, "")
	if err != nil {
		t.Fatalf("load the world's config: %v", err)
	}
	cfg.API.Tokens = testConfig("").API.Tokens
	// A loaded machine and a cluster of three in one process: calls wait
	// longer, and a replica's dead work is taken over soon.
	cfg.NATS.CallTimeout = 20 * time.Second
	cfg.Intake.AckWait, cfg.Notify.AckWait = 10*time.Second, 10*time.Second
	cfg.Intake.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}
	cfg.Enrich.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}
	cfg.Notify.RetryBackoff = []time.Duration{200 * time.Millisecond, time.Second}
	return cfg
}

// publishRange publishes payloads[from:to], each with the id of its index,
// as the analyst tool does, and waits for every acknowledgement.
func publishRange(t *testing.T, js jetstream.JetStream, idFormat string, payloads [][]byte, from, to int) {
	t.Helper()
	const window = 500
	for start := from; start < to; start += window {
		end := min(start+window, to)
		futures := make([]jetstream.PubAckFuture, 0, end-start)
		for i := start; i < end; i++ {
			msg := nats.NewMsg("takedown.reports")
			msg.Data = payloads[i]
			msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf(idFormat, i))
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatalf("publish: %v", err)
			case <-time.After(2 * time.Minute):
				t.Fatal("publish: no ack within 2m")
			}
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// countCases is how many cases the store holds.
func countCases(t *testing.T, st *store.Store) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		page, next, err := st.List(t.Context(), store.ListFilter{After: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(page)
		if next == "" {
			return n
		}
		cursor = next
	}
}

func waitCases(t *testing.T, st *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for countCases(t, st) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d cases after 5m", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet is the state of the whole pipeline at one poll.
type quiet struct {
	states      map[takedown.State]int
	notices     map[takedown.NoticeState]int
	work        uint64 // messages in the work queue
	intakeAcked bool
	cases       []takedown.Case
	records     []takedown.Notice
}

func (q quiet) String() string {
	return fmt.Sprintf("cases %v, notices %v, work %d, intake done %v", q.states, q.notices, q.work, q.intakeAcked)
}

// settled reports whether nothing more is to happen: every report taken
// in, no case waiting for a stage, every notice done, no work queued.
func (q quiet) settled() bool {
	for _, s := range []takedown.State{takedown.StateReceived, takedown.StateEnriched, takedown.StateRouted} {
		if q.states[s] > 0 {
			return false
		}
	}
	for s, n := range q.notices {
		if n > 0 && !s.Done() {
			return false
		}
	}
	return q.intakeAcked && q.work == 0
}

// sameAs reports whether two polls saw the same pipeline.
func (q quiet) sameAs(o quiet) bool { return q.String() == o.String() }

// waitQuiet polls until the pipeline is settled and stays so over two
// polls in a row: no work pending, no case waiting to move.
func waitQuiet(t *testing.T, js jetstream.JetStream, st *store.Store, bound time.Duration) quiet {
	t.Helper()
	deadline := time.Now().Add(bound)
	var last quiet
	for {
		q := poll(t, js, st)
		if q.settled() && q.sameAs(last) {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline never settled within %s: %s", bound, q)
		}
		last = q
		time.Sleep(500 * time.Millisecond)
	}
}

func poll(t *testing.T, js jetstream.JetStream, st *store.Store) quiet {
	t.Helper()
	ctx := t.Context()
	q := quiet{states: map[takedown.State]int{}, notices: map[takedown.NoticeState]int{}}
	cursor := ""
	for {
		page, next, err := st.List(ctx, store.ListFilter{After: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			q.states[c.State]++
		}
		q.cases = append(q.cases, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	kv, err := js.KeyValue(ctx, notify.NoticesBucket)
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		t.Fatal(err)
	}
	if lister != nil {
		for k := range lister.Keys() {
			e, err := kv.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			var rec takedown.Notice
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				t.Fatal(err)
			}
			q.notices[rec.State]++
			q.records = append(q.records, rec)
		}
	}
	work, err := js.Stream(ctx, store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	wi, err := work.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q.work = wi.State.Msgs
	cons, err := js.Consumer(ctx, "TAKEDOWN_REPORTS", intake.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q.intakeAcked = ci.NumPending == 0 && ci.NumAckPending == 0
	return q
}

// checkCluster is what must be true once the run is quiet.
func checkCluster(t *testing.T, a *App, q quiet) {
	t.Helper()
	var missing []string
	for _, c := range q.cases {
		if !c.Watched() {
			continue
		}
		planned, err := a.checks.Planned(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !planned {
			missing = append(missing, fmt.Sprintf("%s (%s)", c.ID, c.State))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d watched cases without a pending check: %v", len(missing), missing[:min(len(missing), 10)])
	}
	var open []string
	for _, rec := range q.records {
		if !rec.State.Done() {
			open = append(open, rec.Ref+" "+string(rec.State))
		}
	}
	if len(open) > 0 {
		t.Errorf("%d notices without a final outcome: %v", len(open), open[:min(len(open), 10)])
	}
	noticed := q.states[takedown.StateNoticed] + q.states[takedown.StateForwarded]
	if noticed == 0 {
		t.Errorf("no case was noticed or forwarded: %s", q)
	}
	var noReason []string
	for _, c := range q.cases {
		if slices.Contains(takedown.NextStep(c, takedown.Pending{Check: true, Notice: true, Work: []string{takedown.WorkEnrich, takedown.WorkRoute}}), takedown.MissingReason) {
			noReason = append(noReason, c.ID)
		}
	}
	if len(noReason) > 0 {
		t.Errorf("cases in a person's queue without a reason: %v", noReason)
	}
}
