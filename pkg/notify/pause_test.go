package notify

import (
	"bytes"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// pauseCase pauses a case's notices for an hour, as the pause action does.
func (h *harness) pauseCase(id string) {
	h.t.Helper()
	if _, err := h.store.Update(h.t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.Pause = &takedown.Pause{Reason: "test", Until: time.Now().Add(time.Hour), By: "alice", At: time.Now()}
		if c.State == takedown.StateRouted {
			return nil, c.MoveTo(takedown.StateEnriched, "paused", time.Now())
		}
		return nil, nil
	}); err != nil {
		h.t.Fatal(err)
	}
}

// resumeCase lifts the pause and asks for routing, as the resume action
// does.
func (h *harness) resumeCase(id string) {
	h.t.Helper()
	if _, err := h.store.Update(h.t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.Pause = nil
		return nil, nil
	}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Enqueue(h.t.Context(), store.StageRoute, id, "route-resumed-"+id, nil); err != nil {
		h.t.Fatal(err)
	}
}

// waitHeld waits until the stage's consumer has taken a message and holds
// it unacknowledged: what a pause does to work that comes due.
func (h *harness) waitHeld(cons *store.Consumer) {
	h.t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		ci, err := h.store.JetStream().Consumer(h.t.Context(), store.WorkStream, cons.Name())
		if err == nil {
			info, err := ci.Info(h.t.Context())
			if err == nil && info.NumAckPending >= 1 && info.Delivered.Consumer >= 1 && info.NumPending == 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("consumer %s holds nothing", cons.Name())
}

// TestPauseHoldsTheFirstNotice: routing a paused case waits; lifting the
// pause routes it, and the hoster is told.
func TestPauseHoldsTheFirstNotice(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil, func(o *Options) { o.HoldStep = 100 * time.Millisecond })
	id := store.CaseID(time.Now(), 1)
	c := takedown.Case{ID: id, URL: "http://host.example.nl/p.jpg", Host: "host.example.nl", State: takedown.StateEnriched, ReceivedAt: time.Now(),
		Classification: takedown.ClassA1,
		Pause:          &takedown.Pause{Reason: "an investigation", Until: time.Now().Add(time.Hour), By: "alice"},
		Enrichment: &takedown.Enrichment{At: time.Now(), Host: "host.example.nl", Country: takedown.CountryDecision{Country: "NL"},
			Addresses: []takedown.AddressInfo{{IP: "192.0.2.10", Country: "NL"}},
			Contacts:  []takedown.Contact{{Email: "abuse@hoster.nl", Role: "hoster", Source: takedown.Source{Kind: "rdap_ip"}}}}}
	c.AddReport(takedown.ReportRef{ReportID: "r-" + id, ConfirmedAt: time.Now().Add(-time.Hour), Classification: takedown.ClassA1})
	if _, err := h.store.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Enqueue(t.Context(), store.StageRoute, id, "route-"+id, nil); err != nil {
		t.Fatal(err)
	}
	h.waitHeld(h.stage.route)
	if got, _, _ := h.store.GetCase(t.Context(), id); got.State != takedown.StateEnriched || len(h.relay.Messages()) != 0 {
		t.Fatalf("paused case is %s with %d messages sent, want enriched and none", got.State, len(h.relay.Messages()))
	}
	h.resumeCase(id)
	if got := h.waitState(id, takedown.StateNoticed); got.Pause != nil {
		t.Errorf("pause = %+v", got.Pause)
	}
	if msgs := h.waitMessages(1); len(msgs) != 1 || msgs[0].To[0] != "abuse@hoster.nl" {
		t.Errorf("relay got %+v", msgs)
	}
}

// TestPauseDropsACaseFromItsBatch: a case paused while its first notice
// waits out the batching window is left out of that notice; the other
// case of the batch is told.
func TestPauseDropsACaseFromItsBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 2 * time.Second }, nil)
	held := h.enrichedCase("http://host.example.nl/held.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	told := h.enrichedCase("http://host.example.nl/told.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	h.waitState(held, takedown.StateRouted)
	h.waitState(told, takedown.StateRouted)
	h.pauseCase(held)
	h.waitState(told, takedown.StateNoticed)
	msgs := h.waitMessages(1)
	if got, _, _ := h.store.GetCase(t.Context(), held); got.State != takedown.StateEnriched || len(got.Notices) != 0 {
		t.Errorf("paused case is %s with notices %+v, want enriched and none", got.State, got.Notices)
	}
	if len(msgs) != 1 || bytes.Contains(msgs[0].Data, []byte("held.jpg")) || !bytes.Contains(msgs[0].Data, []byte("told.jpg")) {
		t.Errorf("the notice names the paused URL or lacks the other: %d messages", len(msgs))
	}
}

// TestPauseHoldsFollowUps: a reminder that comes due while the case is
// paused waits, and goes out once the pause is lifted.
func TestPauseHoldsFollowUps(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil, func(o *Options) { o.HoldStep = 100 * time.Millisecond })
	id := h.enrichedCase("http://host.example.nl/r.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	h.waitState(id, takedown.StateNoticed)
	h.waitMessages(1)
	h.pauseCase(id)
	if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "remind-1", []byte(`{"kind":"reminder","level":"hoster","reminder":1}`)); err != nil {
		t.Fatal(err)
	}
	h.waitHeld(h.stage.followUps)
	if n := len(h.relay.Messages()); n != 1 {
		t.Fatalf("relay got %d messages while paused, want the first notice only", n)
	}
	if _, err := h.store.Update(t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.Pause = nil
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	msgs := h.waitMessages(2)
	if header(t, msgs[1].Data, "X-Takedown-Kind") != "reminder" {
		t.Errorf("second message is %q, want the reminder", header(t, msgs[1].Data, "X-Takedown-Kind"))
	}
}
