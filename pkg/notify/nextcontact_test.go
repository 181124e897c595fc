package notify

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// failingSet is a fake of the stage's ContactHealth: the addresses a
// test marks failing for every case.
type failingSet struct {
	mu   sync.Mutex
	addr map[string]bool
}

func (f *failingSet) set(addr string, failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addr[addr] = failing
}

func (f *failingSet) Failing(_ context.Context, addrs []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range addrs {
		if f.addr[strings.ToLower(a)] {
			out = append(out, strings.ToLower(a))
		}
	}
	return out, nil
}

// withHealth gives the stage the default escalation chains and health.
func withHealth(health *failingSet) func(*Options) {
	return func(o *Options) {
		o.Chains = map[string][]string{}
		for kind, esc := range config.Default().Recheck.Routes {
			o.Chains[kind] = esc.Escalate
		}
		o.Health = health
	}
}

// upstream adds an upstream abuse contact to an enrichment.
func upstream(email string) func(*takedown.Enrichment) {
	return func(e *takedown.Enrichment) {
		e.Contacts = append(e.Contacts, takedown.Contact{Email: email, Role: "upstream"})
	}
}

// bounced does what inbound does with a bounce of the case's notice to
// addr: the notice failed on the case, addr is failing for it, and route
// work names the failed notice.
func (h *harness) bounced(id, addr string) string {
	h.t.Helper()
	var ref string
	if _, err := h.store.Update(h.t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		for i := range c.Notices {
			if strings.EqualFold(c.Notices[i].To, addr) && c.Notices[i].Outcome == "sent" {
				c.Notices[i].Outcome, ref = "failed", c.Notices[i].Ref
			}
		}
		c.Routing.Failing = append(c.Routing.Failing, addr)
		return nil, nil
	}); err != nil {
		h.t.Fatal(err)
	}
	if ref == "" {
		h.t.Fatalf("case %s has no sent notice to %s", id, addr)
	}
	body, _ := json.Marshal(takedown.RouteRequest{Failed: ref})
	if err := h.store.Enqueue(h.t.Context(), store.StageRoute, id, "route-"+id+"-bounce-"+ref, body); err != nil {
		h.t.Fatal(err)
	}
	return ref
}

// states lists the states the case's timeline moved it to.
func (h *harness) states(id string) []takedown.State {
	h.t.Helper()
	tl, err := h.store.Timeline(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []takedown.State
	for _, ev := range tl {
		if ev.To != "" && (len(out) == 0 || out[len(out)-1] != ev.To) {
			out = append(out, ev.To)
		}
	}
	return out
}

// TestBounceTellsTheNextContactAndNeverMovesBack: each failed delivery
// has the case's next contact told at once — the route's next contact,
// then the upstream — while the case stays noticed; with nobody left it
// goes to review with the reason.
func TestBounceTellsTheNextContactAndNeverMovesBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil, withHealth(&failingSet{addr: map[string]bool{}}))
	id := h.enrichedCaseWith("NL", "http://host.example.nl/a.jpg", takedown.PriorityNormal, upstream("abuse@transit.example"), "abuse@hoster.nl", "noc@hoster.nl")
	h.waitMessages(1)
	h.waitState(id, takedown.StateNoticed)

	for i, step := range []struct{ failed, next, level string }{
		{"abuse@hoster.nl", "noc@hoster.nl", "hoster"},
		{"noc@hoster.nl", "abuse@transit.example", "upstream"},
	} {
		h.bounced(id, step.failed)
		msgs := h.waitMessages(i + 2)
		m := msgs[len(msgs)-1]
		if m.To[0] != step.next || header(t, m.Data, "X-Takedown-Kind") != "first" {
			t.Fatalf("after the bounce of %s: mail to %v (%s), want a first notice to %s", step.failed, m.To, header(t, m.Data, "X-Takedown-Kind"), step.next)
		}
		c := h.waitState(id, takedown.StateNoticed)
		last := c.Notices[len(c.Notices)-1]
		deadline := time.Now().Add(waitBound)
		for last.Outcome != "sent" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			c, _, _ = h.store.GetCase(t.Context(), id)
			last = c.Notices[len(c.Notices)-1]
		}
		if last.To != step.next || last.Level != step.level || last.Outcome != "sent" {
			t.Errorf("last notice %+v, want a sent %s notice to %s", last, step.level, step.next)
		}
	}
	if got := h.states(id); strings.Join(stateNames(got), ",") != "routed,noticed" {
		t.Errorf("the case moved %v, want routed then noticed and nothing back", got)
	}

	h.bounced(id, "abuse@transit.example")
	c := h.waitState(id, takedown.StateReview)
	if !strings.Contains(c.StateReason, "every contact failed") || !strings.Contains(c.StateReason, "abuse@transit.example") {
		t.Errorf("review reason %q, want every failing contact named", c.StateReason)
	}
	if n := len(h.relay.Messages()); n != 3 {
		t.Errorf("%d notices, want 3 (nobody left after the third bounce)", n)
	}
}

// TestFailingAddressIsSkippedForNewCases: an address the contact-health
// record marks failing is skipped by the routing of every new case (with
// every hoster contact failing, the upstream is told first); once the mark
// is gone it is tried again.
func TestFailingAddressIsSkippedForNewCases(t *testing.T) {
	t.Parallel()
	health := &failingSet{addr: map[string]bool{"abuse@gone.nl": true}}
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil, withHealth(health))
	first := h.enrichedCase("http://host.example.nl/1.jpg", takedown.PriorityNormal, "abuse@gone.nl", "noc@hoster.nl")
	if m := h.waitMessages(1)[0]; m.To[0] != "noc@hoster.nl" {
		t.Errorf("new case mailed %v, want the failing address skipped", m.To)
	}
	if c := h.waitState(first, takedown.StateNoticed); len(c.Notices) != 1 || c.Routing.Contacts[0].Email != "noc@hoster.nl" {
		t.Errorf("routing %+v, notices %+v: want noc@ only", c.Routing, c.Notices)
	}

	health.set("noc@hoster.nl", true)
	second := h.enrichedCaseWith("NL", "http://host.example.nl/2.jpg", takedown.PriorityNormal, upstream("abuse@transit.example"), "abuse@gone.nl", "noc@hoster.nl")
	if m := h.waitMessages(2)[1]; m.To[0] != "abuse@transit.example" {
		t.Errorf("mailed %v, want the upstream told first", m.To)
	}
	if c := h.waitState(second, takedown.StateNoticed); c.Notices[0].Level != "upstream" || c.Notices[0].Kind != "first" {
		t.Errorf("notice %+v, want a first notice at the upstream level", c.Notices[0])
	}

	health.set("abuse@gone.nl", false)
	third := h.enrichedCase("http://host.example.nl/3.jpg", takedown.PriorityNormal, "abuse@gone.nl", "noc@hoster.nl")
	if m := h.waitMessages(3)[2]; m.To[0] != "abuse@gone.nl" {
		t.Errorf("mailed %v, want abuse@gone.nl tried again once its mark is gone", m.To)
	}
	h.waitState(third, takedown.StateNoticed)
}

func stateNames(ss []takedown.State) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
