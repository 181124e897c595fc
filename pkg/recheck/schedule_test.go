package recheck

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/natstest"
)

// dueConsumer reads fired checks the way Recheck does, for tests that
// look at the schedules alone.
func dueConsumer(tb testing.TB, js jetstream.JetStream) jetstream.Consumer {
	tb.Helper()
	cons, err := js.CreateOrUpdateConsumer(tb.Context(), ScheduleStream, jetstream.ConsumerConfig{
		Durable: "test-due", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: DuePrefix + "*",
	})
	if err != nil {
		tb.Fatalf("create consumer: %v", err)
	}
	return cons
}

func fetchDue(tb testing.TB, cons jetstream.Consumer, n int, wait time.Duration) []Due {
	tb.Helper()
	var out []Due
	deadline := time.Now().Add(wait)
	for len(out) < n && time.Now().Before(deadline) {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			tb.Fatalf("fetch: %v", err)
		}
		for msg := range batch.Messages() {
			var d Due
			if err := json.Unmarshal(msg.Data(), &d); err != nil {
				tb.Fatalf("decode due: %v", err)
			}
			out = append(out, d)
			_ = msg.Ack()
		}
	}
	return out
}

func TestScheduleFiresReplacesAndCancels(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	st := openStore(t, ns, time.Now)
	s, err := NewScheduler(t.Context(), st)
	if err != nil {
		t.Fatalf("new scheduler: %v", err)
	}
	cons := dueConsumer(t, ns.JS)
	now := time.Now()
	fire := now.Add(300 * time.Millisecond).Add(123456 * time.Nanosecond)
	// A: scheduled twice; only the second (later) time fires.
	// B: scheduled, then cancelled: never fires.
	// C: scheduled in the past: fires at once.
	ids := map[string]string{"A": "0000000000000A01", "B": "0000000000000B01", "C": "0000000000000C01"}
	if err := s.Schedule(t.Context(), ids["A"], now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Schedule(t.Context(), ids["A"], fire); err != nil {
		t.Fatal(err)
	}
	if err := s.Schedule(t.Context(), ids["B"], fire); err != nil {
		t.Fatal(err)
	}
	if err := s.Cancel(t.Context(), ids["B"]); err != nil {
		t.Fatal(err)
	}
	if err := s.Schedule(t.Context(), ids["C"], now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if at, ok, err := s.Pending(t.Context(), ids["A"]); err != nil || !ok || !at.Equal(fire) {
		t.Errorf("pending A = %v, %v, %v; want %v (nanoseconds kept)", at, ok, err, fire)
	}
	got := fetchDue(t, cons, 3, 5*time.Second)
	seen := map[string]Due{}
	for _, d := range got {
		if _, dup := seen[d.CaseID]; dup {
			t.Errorf("case %s fired twice", d.CaseID)
		}
		seen[d.CaseID] = d
	}
	if d, ok := seen[ids["A"]]; !ok || !d.At.Equal(fire) {
		t.Errorf("A fired as %+v (%v), want at %v", d, ok, fire)
	}
	if _, ok := seen[ids["B"]]; ok {
		t.Error("cancelled B fired")
	}
	if _, ok := seen[ids["C"]]; !ok {
		t.Error("overdue C did not fire")
	}
	// A fired schedule is used up: nothing is pending any more.
	if _, ok, err := s.Pending(t.Context(), ids["A"]); err != nil || ok {
		t.Errorf("pending A after firing = %v, %v; want none", ok, err)
	}
}

// TestScheduleSurvivesRestart stops the server with 10,000 schedules
// pending and starts it again on the same store: every one fires once.
func TestScheduleSurvivesRestart(t *testing.T) {
	t.Parallel()
	const n = 10_000
	dir := t.TempDir()
	fire := time.Now().Add(2 * time.Second)
	func() {
		ns := natstest.StartIn(t, dir)
		st := openStore(t, ns, time.Now)
		s, err := NewScheduler(t.Context(), st)
		if err != nil {
			t.Fatalf("new scheduler: %v", err)
		}
		due := make([]Due, n)
		for i := range due {
			due[i] = Due{CaseID: fmt.Sprintf("%016d", i), At: fire.Add(time.Duration(i) * time.Microsecond)}
		}
		if err := s.ScheduleMany(t.Context(), due); err != nil {
			t.Fatalf("schedule: %v", err)
		}
		ns.Conn.Close()
		ns.Server.Shutdown()
		ns.Server.WaitForShutdown()
	}()
	ns := natstest.StartIn(t, dir)
	cons := dueConsumer(t, ns.JS)
	got := fetchDue(t, cons, n, 60*time.Second)
	seen := make(map[string]bool, n)
	for _, d := range got {
		if seen[d.CaseID] {
			t.Fatalf("case %s fired twice", d.CaseID)
		}
		seen[d.CaseID] = true
	}
	if len(seen) != n {
		t.Errorf("%d of %d schedules fired after restart", len(seen), n)
	}
}
