package recheck

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Sizes of the load runs; smaller values make a quick smoke run.
var (
	benchDue     = flag.Int("recheck.due", 100_000, "checks due at once in BenchmarkDueChecks")
	benchPending = flag.Int("recheck.pending", 1_000_000, "pending schedules in BenchmarkPendingSchedules")
)

// countProber counts the probes of an inner Prober.
type countProber struct {
	inner Prober
	n     atomic.Int64
	bad   atomic.Int64
}

func (p *countProber) Probe(ctx context.Context, req probe.Request) probe.Result {
	res := p.inner.Probe(ctx, req)
	if res.Verdict != probe.Online {
		p.bad.Add(1)
	}
	p.n.Add(1)
	return res
}

// BenchmarkDueChecks fires *benchDue schedules at once at a loopback
// hoster reached by connect_to under 1,000 host names, and reports checks
// per second from the first firing to the last check recorded, with the
// embedded server in the same process. Each is a case's first check: a
// HEAD probe, a compare-and-set of the case, a checked event and the next
// schedule:
//
//	go test -run XXX -bench BenchmarkDueChecks -benchtime 1x -cpu 2 ./pkg/recheck
func BenchmarkDueChecks(b *testing.B) { benchDueChecks(b, false) }

// BenchmarkDueChecksUnchanged is the check the default cadence runs most:
// material online, as at the check before, on a case with the confirmed
// hash (a HEAD, then a GET whose body is hashed), recorded on the case and
// kept off the timeline (recheck.record_unchanged), then the next
// schedule. It fails if any check wrote an event.
//
//	go test -run XXX -bench BenchmarkDueChecksUnchanged -benchtime 1x -cpu 2 ./pkg/recheck
func BenchmarkDueChecksUnchanged(b *testing.B) { benchDueChecks(b, true) }

func benchDueChecks(b *testing.B, unchanged bool) {
	n := *benchDue
	const hosts = 1000
	ns := natstest.Start(b)
	st := openStore(b, ns, time.Now)
	srv := hostersim.New(false)
	b.Cleanup(srv.Close)
	body := []byte("material served by the simulated hoster")
	srv.SetDefault(hostersim.Content(body))
	connectTo := make(map[string]string, hosts)
	for i := range hosts {
		connectTo[fmt.Sprintf("h%d.test:80", i)] = srv.Addr()
	}
	pr, err := probe.New(probe.Config{AllowPrivate: true, ConnectTo: connectTo, PerHostRate: -1, PerHostConcurrency: 8},
		discardLogger(), time.Now, noDNS{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pr.Close)
	cp := &countProber{inner: pr}
	cfg := testRecheckConfig()
	cfg.Workers = 256
	cfg.AckWait = time.Minute
	cfg.RecordUnchanged = 24 * time.Hour
	r := newRecheck(b, st, cfg, cp, time.Now)

	// An unchanged check stays off the timeline only inside the window
	// of the check before it: a run across midnight UTC would write one
	// event per case.
	now := time.Now()
	if unchanged && now.Add(15*time.Minute).Truncate(cfg.RecordUnchanged) != now.Truncate(cfg.RecordUnchanged) {
		b.Skip("too close to midnight UTC: the checks would fall in the next record_unchanged window")
	}
	sum := sha256.Sum256(body)
	ids := make([]string, n)
	g, ctx := errgroup.WithContext(b.Context())
	g.SetLimit(64)
	for i := range n {
		ids[i] = caseID(i + 1)
		g.Go(func() error {
			c := takedown.Case{ID: ids[i], URL: fmt.Sprintf("http://h%d.test/p%d", i%hosts, i), State: takedown.StateNoticed, ReceivedAt: now,
				Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now}}
			if unchanged {
				// Noticed, checked online a moment ago: the next check
				// finds what this one found, and no reminder is due.
				c.Hashes = takedown.Hashes{SHA256: hex.EncodeToString(sum[:])}
				c.Notices = []takedown.NoticeRef{{Kind: "first", At: now, Outcome: "sent"}}
				c.Checks = &takedown.CheckState{Checks: 1, WatchedSince: now, LastCheckedAt: now, LastOnlineAt: now,
					LastVerdict: string(probe.Online)}
			}
			_, err := st.CreateCase(ctx, c)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("create cases: %v", err)
	}
	events := streamMsgs(b, ns, store.EventsStream)
	fire := time.Now().Add(5 * time.Second) // once the cases exist
	due := make([]Due, n)
	for i, id := range ids {
		due[i] = Due{CaseID: id, At: fire}
	}
	// The cases carry no plan, so the fired checks are not stale.
	if err := r.Scheduler().ScheduleMany(b.Context(), due); err != nil {
		b.Fatal(err)
	}
	runRecheck(b, r)
	seen := 0
	if unchanged {
		seen = 1
	}
	b.ResetTimer()
	for b.Loop() {
		deadline := time.Now().Add(10 * time.Minute)
		for cp.n.Load() < int64(n) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		waitRecorded(b, st, ids[len(ids)-1], seen)
	}
	elapsed := time.Since(fire)
	b.StopTimer()
	if got := cp.n.Load(); got != int64(n) {
		b.Errorf("%d of %d checks ran", got, n)
	}
	if bad := cp.bad.Load(); bad > 0 {
		b.Errorf("%d probes not online", bad)
	}
	if written := streamMsgs(b, ns, store.EventsStream) - events; unchanged && written > 0 {
		b.Errorf("%d events written by %d unchanged checks, want none", written, n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "checks/s")
	b.ReportMetric(rssMB(), "rss_MB")
}

// streamMsgs is how many messages the stream holds.
func streamMsgs(b *testing.B, ns *natstest.Server, name string) uint64 {
	s, err := ns.JS.Stream(b.Context(), name)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs
}

// waitRecorded waits for the check of one case, which had seen checks
// before, to be on record.
func waitRecorded(b *testing.B, st *store.Store, id string, seen int) {
	for range 3000 {
		c, _, err := st.GetCase(b.Context(), id)
		if err == nil && c.Checks != nil && c.Checks.Checks > seen {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkPendingSchedules keeps *benchPending schedules pending (a year
// ahead, so none fires) and reports the resident memory of the process,
// which includes the embedded server that holds them:
//
//	go test -run XXX -bench BenchmarkPendingSchedules -benchtime 1x ./pkg/recheck
func BenchmarkPendingSchedules(b *testing.B) {
	n := *benchPending
	ns := natstest.Start(b)
	st := openStore(b, ns, time.Now)
	s, err := NewScheduler(b.Context(), st)
	if err != nil {
		b.Fatal(err)
	}
	base := rssMB()
	at := time.Now().Add(365 * 24 * time.Hour)
	b.ResetTimer()
	for b.Loop() {
		const chunk = 50_000
		// Three publishers of at most publishWindow each stay under the
		// connection's limit of outstanding asynchronous publishes.
		g, ctx := errgroup.WithContext(b.Context())
		g.SetLimit(3)
		for lo := 0; lo < n; lo += chunk {
			due := make([]Due, 0, chunk)
			for i := lo; i < min(lo+chunk, n); i++ {
				due = append(due, Due{CaseID: caseID(i + 1), At: at.Add(time.Duration(i) * time.Millisecond)})
			}
			g.Go(func() error { return s.ScheduleMany(ctx, due) })
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	info, err := s.stream.Info(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if got := info.State.Msgs; got != uint64(n) {
		b.Errorf("%d schedules pending, want %d", got, n)
	}
	runtime.GC()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "schedules/s")
	b.ReportMetric(base, "rss_before_MB")
	b.ReportMetric(rssMB(), "rss_MB")
}

// rssMB is the resident set size of this process, in MB (Linux).
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}
