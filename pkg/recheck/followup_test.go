package recheck

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// errCrash stands for the process dying at a fault point.
var errCrash = errors.New("simulated crash")

// heldProber is a fake of our Prober: it answers the result it holds.
type heldProber struct {
	mu  sync.Mutex
	res probe.Result
}

func (p *heldProber) Probe(context.Context, probe.Request) probe.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.res
}

func (p *heldProber) set(res probe.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res = res
}

var (
	onlineResult = probe.Result{Verdict: probe.Online, Reason: "fake", RemoteAddr: "192.0.2.1:80"}
	movedResult  = probe.Result{Verdict: probe.Online, Reason: "fake", RemoteAddr: "198.51.100.7:80"}
	goneResult   = probe.Result{Verdict: probe.Gone, Reason: "fake"}
)

// followUpFixture is one case whose next check, due now, decides
// follow-up work, on a server of its own.
type followUpFixture struct {
	st     *store.Store
	clock  *stepClock
	prober *heldProber
	id     string
	due    time.Time
}

// Kinds of follow-up a fixture's check decides.
const (
	decidesReminder   = "reminder"   // online a day after the notice: reminder 1
	decidesReappeared = "reappeared" // a removed case is online again
	decidesMoved      = "moved"      // reminder 1, and the material answers from a new address
)

func newFollowUpFixture(t *testing.T, decides string) *followUpFixture {
	t.Helper()
	notice := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	f := &followUpFixture{
		clock: &stepClock{t: notice.Add(25 * time.Hour)}, prober: &heldProber{res: onlineResult},
		id: caseID(7), due: notice.Add(25 * time.Hour),
	}
	f.st = openStore(t, natstest.Start(t), f.clock.Now)
	noticedAt(t, f.st, f.id, "http://hoster.test/f", notice, func(c *takedown.Case) {
		c.Enrichment = &takedown.Enrichment{At: f.due.Add(-time.Hour), Addresses: []takedown.AddressInfo{{IP: "192.0.2.1"}}}
		c.Checks = &takedown.CheckState{
			Checks: 5, LastVerdict: string(probe.Online), LastCheckedAt: notice.Add(12 * time.Hour),
			LastOnlineAt: notice.Add(12 * time.Hour), NextCheckAt: f.due,
		}
		if decides == decidesReappeared {
			c.State = takedown.StateRemoved
			c.Checks.LastVerdict, c.Checks.RemovedAt = string(probe.Gone), notice.Add(13*time.Hour)
		}
	})
	if decides == decidesMoved {
		f.prober.set(movedResult)
	}
	return f
}

// replica is a Recheck on the fixture's store, as a process would start
// one; crashAt, if set, stops its checks at that point.
func (f *followUpFixture) replica(t *testing.T, crashAt string) *Recheck {
	t.Helper()
	r := newRecheck(t, f.st, testRecheckConfig(), f.prober, f.clock.Now)
	if crashAt != "" {
		r.crashAt = func(point string) error {
			if point == crashAt {
				return errCrash
			}
			return nil
		}
	}
	return r
}

// fire runs the check that the case's pending schedule fires.
func (f *followUpFixture) fire(t *testing.T, r *Recheck, at time.Time) error {
	t.Helper()
	return r.Check(t.Context(), f.id, "schedule", &Due{CaseID: f.id, At: at})
}

// notifyRequests reads every notify request of the case in the work
// stream, in order (no notify stage consumes them here).
func notifyRequests(t *testing.T, st *store.Store, id string) []takedown.NotifyRequest {
	t.Helper()
	var out []takedown.NotifyRequest
	for _, data := range workMessages(t, st, store.StageNotify, id) {
		var req takedown.NotifyRequest
		if err := json.Unmarshal(data, &req); err != nil {
			t.Fatalf("decode notify request: %v", err)
		}
		out = append(out, req)
	}
	return out
}

func workMessages(t *testing.T, st *store.Store, stage, id string) [][]byte {
	t.Helper()
	s, err := st.JetStream().Stream(t.Context(), store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for seq := uint64(1); ; {
		m, err := s.GetMsg(t.Context(), seq, jetstream.WithGetMsgSubject(store.WorkSubject(stage, id)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			t.Fatalf("read work: %v", err)
		}
		out = append(out, m.Data)
		seq = m.Sequence + 1
	}
}

// followUpKeys lists the outbox entries of a case.
func followUpKeys(t *testing.T, r *Recheck, id string) []string {
	t.Helper()
	lister, err := r.followKV.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range lister.Keys() {
		if strings.HasPrefix(k, id+".") {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestFollowUpsSurviveCrashes stops a check at each point between its
// decision and the end of its follow-up work, as a crash would, then lets
// a restarted replica redeliver the fired check, sweep, or run the next
// check. Each decided request must be in the work stream exactly once;
// one never recorded (the re-probe decided otherwise) never.
func TestFollowUpsSurviveCrashes(t *testing.T) {
	t.Parallel()
	type want struct {
		notify []takedown.NotifyRequest
		enrich int
		checks int
	}
	reminder1 := takedown.NotifyRequest{Kind: NotifyReminder, Level: takedown.RouteHoster, Reminder: 1}
	reminder2 := takedown.NotifyRequest{Kind: NotifyReminder, Level: takedown.RouteHoster, Reminder: 2}
	reappeared := takedown.NotifyRequest{Kind: NotifyReappeared, Level: takedown.RouteHoster, Reminder: 1}
	tests := []struct {
		name    string
		decides string
		crashAt string
		// then are the steps after the crash: "rerun" (the fired check is
		// redelivered), "rerun-later" (the same, a minute later),
		// "rerun-gone" (redelivered, and the re-probe finds it gone),
		// "sweep", "next" (the case's next planned check).
		then []string
		want want
	}{
		{"no crash", decidesReminder, "", nil, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"before the record, redelivered", decidesReminder, "planned", []string{"sweep", "rerun", "sweep"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"before the record, redelivered a minute later", decidesReminder, "planned", []string{"rerun-later", "sweep"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"before the record, re-probe finds it gone", decidesReminder, "planned", []string{"rerun-gone", "sweep"}, want{nil, 0, 6}},
		{"after the record, redelivered", decidesReminder, "recorded", []string{"rerun", "sweep"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"after the record, swept", decidesReminder, "recorded", []string{"sweep", "rerun"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		// The next check, a day on, also finds the enrichment old: a refresh.
		{"after the record, next check", decidesReminder, "recorded", []string{"next"}, want{[]takedown.NotifyRequest{reminder1, reminder2}, 1, 7}},
		{"after the enqueue, redelivered", decidesReminder, "enqueued-1", []string{"rerun", "sweep"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"after the enqueue, swept", decidesReminder, "enqueued-1", []string{"sweep"}, want{[]takedown.NotifyRequest{reminder1}, 0, 6}},
		{"reappeared, before the record", decidesReappeared, "planned", []string{"rerun"}, want{[]takedown.NotifyRequest{reappeared}, 0, 6}},
		{"reappeared, after the record", decidesReappeared, "recorded", []string{"sweep"}, want{[]takedown.NotifyRequest{reappeared}, 0, 6}},
		{"reappeared, after the enqueue", decidesReappeared, "enqueued-1", []string{"rerun"}, want{[]takedown.NotifyRequest{reappeared}, 0, 6}},
		{"moved, after the record", decidesMoved, "recorded", []string{"sweep"}, want{[]takedown.NotifyRequest{reminder1}, 1, 6}},
		{"moved, between the notify and the enrich work", decidesMoved, "enqueued-1", []string{"rerun"}, want{[]takedown.NotifyRequest{reminder1}, 1, 6}},
		{"moved, after both", decidesMoved, "enqueued-2", []string{"sweep"}, want{[]takedown.NotifyRequest{reminder1}, 1, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFollowUpFixture(t, tt.decides)
			err := f.fire(t, f.replica(t, tt.crashAt), f.due)
			if tt.crashAt == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if tt.crashAt != "" && !errors.Is(err, errCrash) {
				t.Fatalf("check: %v, want the crash at %s", err, tt.crashAt)
			}
			r := f.replica(t, "") // the restarted process
			for _, step := range tt.then {
				var err error
				switch step {
				case "rerun":
					err = f.fire(t, r, f.due)
				case "rerun-later":
					f.clock.Set(f.due.Add(time.Minute))
					err = f.fire(t, r, f.due)
				case "rerun-gone":
					f.prober.set(goneResult)
					err = f.fire(t, r, f.due)
				case "sweep":
					_, err = r.Sweep(t.Context())
				case "next":
					next := getCase(t, f.st, f.id).Checks.NextCheckAt
					f.clock.Set(next)
					err = f.fire(t, r, next)
				}
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			if got := notifyRequests(t, f.st, f.id); !slices.Equal(got, tt.want.notify) {
				t.Errorf("notify requests %+v, want %+v", got, tt.want.notify)
			}
			if got := len(workMessages(t, f.st, store.StageEnrich, f.id)); got != tt.want.enrich {
				t.Errorf("%d enrich requests, want %d", got, tt.want.enrich)
			}
			if c := getCase(t, f.st, f.id); c.CheckCount() != tt.want.checks {
				t.Errorf("%d checks recorded, want %d", c.CheckCount(), tt.want.checks)
			}
			if keys := followUpKeys(t, r, f.id); len(keys) != 0 {
				t.Errorf("follow-up entries left: %v", keys)
			}
		})
	}
}

// TestLosingReplicaSendsNothing: a replica decides a reminder and writes
// its outbox entry; before it records, another replica records the same
// check. The loser's decision is never sent; the winner's exactly once.
func TestLosingReplicaSendsNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		winnerSees probe.Result
		want       []takedown.NotifyRequest
	}{
		{"winner finds it gone", goneResult, nil},
		{"winner decides the same reminder", onlineResult, []takedown.NotifyRequest{{Kind: NotifyReminder, Level: takedown.RouteHoster, Reminder: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFollowUpFixture(t, decidesReminder)
			winner := newRecheck(t, f.st, testRecheckConfig(), &heldProber{res: tt.winnerSees}, f.clock.Now)
			loser := f.replica(t, "")
			loser.crashAt = func(point string) error {
				if point == "planned" {
					return f.fire(t, winner, f.due)
				}
				return nil
			}
			if err := f.fire(t, loser, f.due); err != nil {
				t.Fatalf("losing check: %v", err)
			}
			if _, err := winner.Sweep(t.Context()); err != nil {
				t.Fatalf("sweep: %v", err)
			}
			if got := notifyRequests(t, f.st, f.id); !slices.Equal(got, tt.want) {
				t.Errorf("notify requests %+v, want %+v", got, tt.want)
			}
			if c := getCase(t, f.st, f.id); c.CheckCount() != 6 {
				t.Errorf("%d checks recorded, want 6", c.CheckCount())
			}
			if keys := followUpKeys(t, winner, f.id); len(keys) != 0 {
				t.Errorf("follow-up entries left: %v", keys)
			}
		})
	}
}
