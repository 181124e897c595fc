package recheck

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestTwoReplicasRunEachCheckOnce: two Recheck instances on their own
// connections share the durable consumers; schedules firing a few hundred
// milliseconds ahead (by the server's wall clock) are each probed once.
func TestTwoReplicasRunEachCheckOnce(t *testing.T) {
	t.Parallel()
	const n = 300
	ns := natstest.Start(t)
	st1 := openStore(t, ns, time.Now)
	nc2, err := nats.Connect(ns.Server.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	js2, _ := jetstream.New(nc2)
	st2 := openStore(t, &natstest.Server{Server: ns.Server, Conn: nc2, JS: js2}, time.Now)
	p1 := &countingProber{verdict: probe.Online, calls: map[string]int{}}
	p2 := &countingProber{verdict: probe.Online, calls: map[string]int{}}
	r1 := newRecheck(t, st1, testRecheckConfig(), p1, time.Now)
	r2 := newRecheck(t, st2, testRecheckConfig(), p2, time.Now)
	runRecheck(t, r1)
	runRecheck(t, r2)

	fire := time.Now().Add(400 * time.Millisecond)
	due := make([]Due, n)
	for i := range due {
		id := caseID(i + 1)
		noticedAt(t, st1, id, fmt.Sprintf("http://hoster.test/%d", i), time.Now(), func(c *takedown.Case) {
			c.Checks = &takedown.CheckState{NextCheckAt: fire}
		})
		due[i] = Due{CaseID: id, At: fire}
	}
	if err := r1.Scheduler().ScheduleMany(t.Context(), due); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "every case checked", func() bool {
		return len(p1.counts())+len(p2.counts()) >= n
	})
	// Give a duplicate, if any, the time to show.
	time.Sleep(500 * time.Millisecond)
	c1, c2 := p1.counts(), p2.counts()
	for i := range n {
		u := fmt.Sprintf("http://hoster.test/%d", i)
		if got := c1[u] + c2[u]; got != 1 {
			t.Errorf("%s probed %d times, want 1", u, got)
		}
		if c := getCase(t, st1, caseID(i+1)); c.Checks.Checks != 1 {
			t.Errorf("case %s: %d checks recorded, want 1", c.ID, c.Checks.Checks)
		}
	}
	if len(c1) == 0 || len(c2) == 0 {
		t.Logf("one replica did all the work (%d / %d): allowed, but the split was not exercised", len(c1), len(c2))
	}
}

// TestStartAndOnDemand: Start (what the notify stage calls) plans the
// first check after the first cadence offset; RequestCheck (API, CLI,
// replies) probes at once.
func TestStartAndOnDemand(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	st := openStore(t, ns, time.Now)
	p := &countingProber{verdict: probe.Online, calls: map[string]int{}}
	r := newRecheck(t, st, testRecheckConfig(), p, time.Now)
	runRecheck(t, r)
	id := caseID(42)
	notice := time.Now().Truncate(time.Millisecond)
	noticedAt(t, st, id, "http://hoster.test/demand", notice)
	// Twice: the second start is the same request and changes nothing.
	for range 2 {
		if err := Start(t.Context(), st, id, notice); err != nil {
			t.Fatal(err)
		}
	}
	want := notice.Add(15 * time.Minute)
	waitFor(t, 10*time.Second, "first check planned", func() bool {
		at, ok, err := r.Scheduler().Pending(t.Context(), id)
		return err == nil && ok && at.Equal(want)
	})
	if c := getCase(t, st, id); !c.Checks.NextCheckAt.Equal(want) || c.Checks.Checks != 0 {
		t.Errorf("after start: next %v, checks %d; want %v, 0", c.Checks.NextCheckAt, c.Checks.Checks, want)
	}
	if err := RequestCheck(t.Context(), st, id, "analyst-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "on-demand check", func() bool { return getCase(t, st, id).Checks.Checks == 1 })
	if got := p.counts()["http://hoster.test/demand"]; got != 1 {
		t.Errorf("probed %d times, want 1", got)
	}
}
