package notify

import (
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestUnderwayAndResume: a routed case in an open batch has its notice on
// its way; one whose sent notice never reached its record (what a stale
// read on a cluster left behind: routed, outcome "sending") has not, and
// Resume records the outcome so the case moves on; one that no notice
// names is routed again.
func TestUnderwayAndResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = time.Hour }, nil)
	waiting := h.enrichedCase("http://host.example.nl/waiting.jpg", takedown.PriorityNormal, "abuse@waiting.nl")
	c := h.waitState(waiting, takedown.StateRouted)
	deadline := time.Now().Add(waitBound)
	for {
		ok, err := h.stage.Underway(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a case in an open batch is not underway")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A notice sent at once, and then its case put back as a stale read
	// would have left it.
	stuck := h.enrichedCase("http://host.example.nl/stuck.jpg", takedown.PriorityHigh, "abuse@stuck.nl")
	c = h.waitState(stuck, takedown.StateNoticed)
	if _, err := h.store.Update(t.Context(), stuck, func(c *takedown.Case) ([]takedown.Event, error) {
		c.State, c.Notices[0].Outcome = takedown.StateRouted, "sending"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	c, _, _ = h.store.GetCase(t.Context(), stuck)
	if ok, err := h.stage.Underway(t.Context(), c); err != nil || ok {
		t.Fatalf("underway %v (%v) for a case whose notice is done", ok, err)
	}
	if err := h.stage.Resume(t.Context(), c, "repair-1"); err != nil {
		t.Fatal(err)
	}
	c = h.waitState(stuck, takedown.StateNoticed)
	if c.Notices[0].Outcome != "sent" || len(h.relay.Messages()) != 1 {
		t.Errorf("notices %+v after %d messages, want the outcome recorded and nothing sent again", c.Notices, len(h.relay.Messages()))
	}

	// Routed, but named by no notice: routed again, and told.
	lost := h.enrichedCase("http://host.example.nl/lost.jpg", takedown.PriorityHigh, "abuse@lost.nl")
	h.waitState(lost, takedown.StateNoticed)
	if _, err := h.store.Update(t.Context(), lost, func(c *takedown.Case) ([]takedown.Event, error) {
		c.State, c.Notices = takedown.StateRouted, nil
		c.Routing.At = time.Now().Add(-24 * time.Hour)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	c, _, _ = h.store.GetCase(t.Context(), lost)
	if ok, err := h.stage.Underway(t.Context(), c); err != nil || ok {
		t.Fatalf("underway %v (%v) for a case no notice names, long past its due time", ok, err)
	}
	if err := h.stage.Resume(t.Context(), c, "repair-1"); err != nil {
		t.Fatal(err)
	}
	if c = h.waitState(lost, takedown.StateNoticed); len(c.Notices) != 1 || c.Notices[0].Outcome != "sent" {
		t.Errorf("notices %+v, want one sent after the repair", c.Notices)
	}
}

// TestRedeliveredRoutingQueuesAMissingFlush: the replica that opened a
// notice died before it queued the notice's flush; the case's route work,
// handed out again, queues it — once — and the notice goes out.
func TestRedeliveredRoutingQueuesAMissingFlush(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	// The dead replica's part: the case routed and in an open notice
	// whose batch points at it, and no flush.
	id := store.CaseID(time.Now(), 900)
	e := &takedown.Enrichment{At: time.Now(), Host: "host.example.nl", Country: takedown.CountryDecision{Country: "NL"},
		Contacts: []takedown.Contact{{Email: "abuse@orphan.nl", Role: "hoster"}}}
	c := takedown.Case{ID: id, URL: "http://host.example.nl/orphan.jpg", State: takedown.StateEnriched, Classification: takedown.ClassA1, Enrichment: e, ReceivedAt: time.Now()}
	c.AddReport(takedown.ReportRef{ReportID: "r-orphan", ConfirmedAt: time.Now(), Classification: takedown.ClassA1})
	if _, err := h.store.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	p := h.stage.nextStep(c, nil, nil)
	rec := *p.notice
	rec.Ref, rec.State, rec.OpenedAt, rec.DueAt, rec.Cases = newRef(time.Now()), takedown.NoticeOpen, time.Now(), time.Now(), []string{id}
	if _, err := h.stage.rec.notices.Create(t.Context(), rec.Ref, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := h.stage.rec.batches.Create(t.Context(), contactKey(rec), []byte(rec.Ref)); err != nil {
		t.Fatal(err)
	}
	if err := h.stage.routeCase(t.Context(), id, takedown.RouteRequest{}, true); err != nil {
		t.Fatal(err)
	}
	c = h.waitState(id, takedown.StateNoticed)
	if len(c.Notices) != 1 || c.Notices[0].Ref != rec.Ref {
		t.Errorf("notices %+v, want the orphaned notice %s sent", c.Notices, rec.Ref)
	}
	// Asked again, once the flush is acked (the case is noticed just
	// before), it queues nothing more.
	waitUntil(t, "flush acked", func() bool {
		pending, err := h.store.WorkPending(t.Context(), stageFlush, rec.Ref)
		return err == nil && !pending
	})
	if err := h.stage.ensureFlush(t.Context(), rec.Ref); err != nil {
		t.Fatal(err)
	}
	if pending, err := h.store.WorkPending(t.Context(), stageFlush, rec.Ref); err != nil || pending {
		t.Errorf("flush pending %v (%v) for a notice that is done", pending, err)
	}
	if n := len(h.relay.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
