package enrich

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// A first notice needs the hoster's network alone: EnrichForNotice asks
// RIPE for it and nobody else, and Escalation later finds the rest, so
// that the merged enrichment is the one Enrich makes in one go.
func TestEnrichForNoticeLeavesTheChainForLater(t *testing.T) {
	t.Parallel()
	sim := upstreamSim(t)
	e := newSimEnricher(t, sim, netip.MustParseAddr("185.70.1.10"), 12400)
	u, err := urlnorm.Parse("http://www.up.com/a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	first, err := e.EnrichForNotice(t.Context(), u)
	if err != nil {
		t.Fatalf("err = %v (problems %v)", err, first.Problems)
	}
	if got := emails(first.Contacts); !slices.Equal(got, []string{"hoster:abuse@hoster.example"}) {
		t.Errorf("first contacts = %v, want the hoster's alone", got)
	}
	if !first.EscalationPending || first.Registrar != nil || first.Country.Country != "NL" {
		t.Errorf("first: pending %v, registrar %+v, country %q; want pending, no registrar, NL", first.EscalationPending, first.Registrar, first.Country.Country)
	}
	if q := sim.Server("verisign").Queries(); q != 0 {
		t.Errorf("verisign asked %d times for a first notice, want 0", q)
	}
	ripe := sim.Server("ripe").Requests()
	if len(ripe) != 1 {
		t.Errorf("ripe asked %d times (%v), want once: the hoster's network", len(ripe), ripe)
	}

	esc, err := e.Escalation(t.Context(), u, &first)
	if err != nil {
		t.Fatal(err)
	}
	merged := first
	merged.Contacts = slices.Clone(first.Contacts)
	esc.Apply(&merged)
	full, err := newSimEnricher(t, upstreamSim(t), netip.MustParseAddr("185.70.1.10"), 12400).Enrich(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := emails(merged.Contacts), emails(full.Contacts); !slices.Equal(got, want) {
		t.Errorf("merged contacts = %v\nwant (Enrich's)  %v", got, want)
	}
	if merged.EscalationPending || merged.Registrar == nil || merged.Registrar.Abuse == nil || merged.Registrar.Abuse.Email != "abuse@registrar.example" {
		t.Errorf("merged: pending %v, registrar %+v; want done, with the registrar's abuse address", merged.EscalationPending, merged.Registrar)
	}
	// Applying again (a redelivery) changes nothing.
	again := merged
	again.Contacts = slices.Clone(merged.Contacts)
	esc.Apply(&again)
	if !slices.Equal(emails(again.Contacts), emails(merged.Contacts)) || !slices.Equal(again.Problems, merged.Problems) {
		t.Errorf("applied twice: %v, %v", emails(again.Contacts), again.Problems)
	}
}

// A network that names no abuse contact sends the case to a person, who
// needs the registrar to decide: then the domain is looked up before the
// case leaves enrichment, as is a case whose country is unknown.
func TestEnrichForNoticeWithoutContactLooksUpEverything(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		net     rdapsim.Network
		country string
	}{
		{"network without abuse contact", rdapsim.Network{Prefix: netip.MustParsePrefix("185.73.1.0/24"), Handle: "SILENT-NET"}, "NL"},
		{"country unknown", rdapsim.Network{Prefix: netip.MustParsePrefix("185.73.1.0/24"), Handle: "NOWHERE-NET", AbuseEmail: "abuse@nowhere.example"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := upstreamSim(t)
			if err := sim.Server("ripe").AddNetwork(tc.net); err != nil {
				t.Fatal(err)
			}
			addr := netip.MustParseAddr("185.73.1.10")
			reg := newSimEnricher(t, sim, addr, 0).opts.Registry
			e, err := New(Options{
				Resolver: fakeResolver{t: t, answers: map[string]dns.Answer{"www.up.com": {Addrs: []netip.Addr{addr}}}},
				Registry: reg, CDN: defaultDetector(t), Log: slog.New(slog.DiscardHandler),
				Locator: fakeLocator{addr: {Country: tc.country}},
			})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := urlnorm.Parse("http://www.up.com/a.jpg")
			enr, err := e.EnrichForNotice(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			if enr.EscalationPending || enr.Registrar == nil || !slices.Contains(emails(enr.Contacts), "registrar:abuse@registrar.example") {
				t.Errorf("pending %v, registrar %+v, contacts %v; want the registrar looked up at once", enr.EscalationPending, enr.Registrar, emails(enr.Contacts))
			}
			if Noticeable(&enr) {
				t.Errorf("Noticeable(%v, country %q) = true", emails(enr.Contacts), enr.HostingCountry())
			}
		})
	}
}

// Through the stages on an embedded NATS: while Verisign refuses every
// query, the case is enriched with its hoster and handed to routing, its
// escalate work queued beside the route work; once Verisign answers, the
// escalation stage writes the chain into the case with an event.
func TestEscalationStageCompletesTheChainAfterTheNotice(t *testing.T) {
	t.Parallel()
	sim := upstreamSim(t)
	sim.Server("verisign").SetFault(rdapsim.Fault{Status: 503})
	e := newSimEnricher(t, sim, netip.MustParseAddr("185.70.1.10"), 12400)
	log := slog.New(slog.DiscardHandler)
	ns := natstest.Start(t)
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 5, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := StageConfig{Workers: 2, AckWait: 5 * time.Second, MaxAttempts: 1000, Backoff: []time.Duration{20 * time.Millisecond}}
	stage, err := NewStage(t.Context(), cfg, st, e, log)
	if err != nil {
		t.Fatal(err)
	}
	escalation, err := NewEscalationStage(t.Context(), cfg, st, e, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	go func() { done <- stage.Run(ctx) }()
	go func() { done <- escalation.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil && ctx.Err() == nil {
				t.Errorf("stage: %v", err)
			}
		}
	})

	u, _ := urlnorm.Parse("http://www.up.com/a.jpg")
	now := time.Now().UTC()
	id := store.CaseID(now, 1)
	c := takedown.Case{ID: id, URL: u.String, OriginalURL: u.String, Host: u.Host, Domain: u.Domain,
		State: takedown.StateReceived, ReceivedAt: now, UpdatedAt: now}
	if _, err := st.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(t.Context(), store.StageEnrich, id, "enrich-"+id, nil); err != nil {
		t.Fatal(err)
	}
	enriched := waitCase(t, st, id, func(c takedown.Case) bool { return c.State == takedown.StateEnriched })
	if !enriched.Enrichment.EscalationPending || !slices.Equal(emails(enriched.Enrichment.Contacts), []string{"hoster:abuse@hoster.example"}) {
		t.Fatalf("enriched: pending %v, contacts %v", enriched.Enrichment.EscalationPending, emails(enriched.Enrichment.Contacts))
	}
	// The case is enriched a moment before its hand-over is queued.
	var work []string
	waitFor(t, "route work", func() bool {
		var err error
		if work, err = st.PendingWork(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		return slices.Contains(work, takedown.WorkRoute)
	})
	// The escalate work is queued before the route work, and may be in a
	// worker's hands (waiting for Verisign) rather than pending: the rule
	// every open case is checked against must hold either way.
	if miss := takedown.NextStep(enriched, takedown.Pending{Work: append(work, takedown.WorkEscalate)}); len(miss) != 0 {
		t.Errorf("next step of the enriched case: %v missing", miss)
	}
	if sim.Server("verisign").Queries() == 0 {
		// Escalation asks while the enrich stage already handed over; by
		// now it has asked at least once or is about to: wait for it.
		waitFor(t, "verisign asked", func() bool { return sim.Server("verisign").Queries() > 0 })
	}
	if got := mustCase(t, st, id); !got.Enrichment.EscalationPending {
		t.Fatalf("chain recorded while verisign refuses: %v", emails(got.Enrichment.Contacts))
	}

	sim.Server("verisign").SetFault(rdapsim.Fault{})
	full := waitCase(t, st, id, func(c takedown.Case) bool { return !c.Enrichment.EscalationPending })
	want := []string{"hoster:abuse@hoster.example", "upstream:abuse@transit.example", "upstream:noc@transit.example", "registrar:abuse@registrar.example"}
	if got := emails(full.Enrichment.Contacts); !slices.Equal(got, want) {
		t.Errorf("contacts after escalation = %v\nwant %v", got, want)
	}
	if full.State != takedown.StateEnriched {
		t.Errorf("state %s after the chain, want the case's own (enriched)", full.State)
	}
	evs, err := st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Type == takedown.EventEscalationChain {
			n++
			if ev.From != takedown.StateEnriched || ev.To != takedown.StateEnriched || ev.Actor != Actor {
				t.Errorf("escalation event %+v", ev)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d escalation_chain events, want 1", n)
	}
}

func mustCase(t *testing.T, st *store.Store, id string) takedown.Case {
	t.Helper()
	c, _, err := st.GetCase(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitCase(t *testing.T, st *store.Store, id string, ok func(takedown.Case) bool) takedown.Case {
	t.Helper()
	var c takedown.Case
	waitFor(t, "case "+id, func() bool { c = mustCase(t, st, id); return c.Enrichment != nil && ok(c) })
	return c
}

// waitFor polls cond until it holds; the bound is only there so a broken
// stage fails the test instead of hanging it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
