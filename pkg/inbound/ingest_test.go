package inbound

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/contacthealth"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
)

const (
	refA   = "TD-20261126-7F3K2Q" // first notice to abuse@hoster-a.nl, cases C01 and C02
	refB   = "TD-20261126-9B4M1X" // first notice to abuse@hoster-b.nl, case C03
	caseA1 = "0000000000000C01"   // noticed, routed to abuse@ then noc@hoster-a.nl
	caseA2 = "0000000000000C02"   // removed meanwhile
	caseB  = "0000000000000C03"   // noticed, abuse@hoster-b.nl its only contact
)

// fixture is an ingester on an embedded NATS with two notices and three
// cases, and a record of the checks it asked for.
type fixture struct {
	st     *store.Store
	js     jetstream.JetStream
	in     *Ingester
	mu     sync.Mutex
	checks []string
	verp   *verp.Signer
	health *contacthealth.Book
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns := natstest.Start(t)
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.EnsureKV(ctx, jetstream.KeyValueConfig{Bucket: "takedown_notices"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []map[string]any{
		{"ref": refA, "kind": "first", "level": "hoster", "channel": "email", "to": "abuse@hoster-a.nl", "state": "sent",
			"cases": []string{caseA1, caseA2, "0000000000000C09"}, "dropped": []string{"0000000000000C09"},
			"items": []map[string]any{{"case_id": caseA1, "url": "http://www.hoster-a.nl/a.jpg"}, {"case_id": caseA2}}},
		{"ref": refB, "kind": "first", "level": "hoster", "channel": "email", "to": "abuse@hoster-b.nl", "state": "sent",
			"cases": []string{caseB}},
	} {
		b, _ := json.Marshal(rec)
		if _, err := kv.Put(ctx, rec["ref"].(string), b); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	contacts := func(emails ...string) []takedown.Contact {
		var cs []takedown.Contact
		for _, e := range emails {
			cs = append(cs, takedown.Contact{Email: e, Role: "hoster"})
		}
		return cs
	}
	for _, c := range []takedown.Case{
		{ID: caseA1, State: takedown.StateNoticed, Routing: &takedown.Routing{Kind: takedown.RouteHoster, Contacts: contacts("abuse@hoster-a.nl", "noc@hoster-a.nl")},
			Notices: []takedown.NoticeRef{{Ref: refA, Kind: "first", Channel: "email", To: "abuse@hoster-a.nl", At: now, Outcome: "sent"}}},
		{ID: caseA2, State: takedown.StateRemoved, Routing: &takedown.Routing{Kind: takedown.RouteHoster, Contacts: contacts("abuse@hoster-a.nl")},
			Notices: []takedown.NoticeRef{{Ref: refA, Kind: "first", Channel: "email", To: "abuse@hoster-a.nl", At: now, Outcome: "sent"}}},
		{ID: caseB, State: takedown.StateNoticed, Routing: &takedown.Routing{Kind: takedown.RouteHoster, Contacts: contacts("abuse@hoster-b.nl")},
			Notices: []takedown.NoticeRef{{Ref: refB, Kind: "first", Channel: "email", To: "abuse@hoster-b.nl", At: now, Outcome: "sent"}}},
	} {
		c.URL, c.ReceivedAt = "http://www.hoster.example/x.jpg", now
		if _, err := st.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	notices, err := OpenKVNotices(ctx, st, "takedown_notices")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, js: ns.JS, verp: testSigner(t)}
	if f.health, err = contacthealth.Open(ctx, st, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.in, err = New(ctx, Options{
		Store: st, Notices: notices, Domains: testDomains, Log: log, VERP: f.verp, Health: f.health,
		RequestCheck: func(_ context.Context, id string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.checks = append(f.checks, id)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) checked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.checks)
}

func (f *fixture) events(t *testing.T, id string, typ takedown.EventType) []takedown.Event {
	t.Helper()
	all, err := f.st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []takedown.Event
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// routeWork returns the route work queued for a case, nil if none.
func (f *fixture) routeWork(t *testing.T, id string) *takedown.RouteRequest {
	t.Helper()
	s, err := f.js.Stream(t.Context(), store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(t.Context(), store.WorkSubject(store.StageRoute, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var req takedown.RouteRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

// marked returns those of addrs the contact-health record marks failing.
func (f *fixture) marked(t *testing.T, addrs ...string) []string {
	t.Helper()
	out, err := f.health.Failing(t.Context(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIngestReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, from, text string
		kind             Kind
		auto             bool
	}{
		{"reply-plain.eml", "abuse@hoster-a.nl", "We have removed the files", KindReply, false},
		{"reply-quoted.eml", "noc@hoster-a.nl", "The content is offline since 11:40 CET.", KindReply, false},
		{"reply-outlook.eml", "servicedesk@hoster-b.nl", "het materiaal is verwijderd", KindReply, false},
		{"autoreply-ooo.eml", "j.jansen@hoster-a.nl", "out of the office", KindAutoReply, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res, err := f.in.Ingest(t.Context(), sample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tt.kind || res.Ref != refA || !slices.Equal(res.Cases, []string{caseA1, caseA2}) {
				t.Errorf("result %+v, want %s of %s on %s and %s", res, tt.kind, refA, caseA1, caseA2)
			}
			evs := f.events(t, caseA1, takedown.EventReplied)
			if len(evs) != 1 || evs[0].Actor != "inbound" || evs[0].From != takedown.StateNoticed {
				t.Fatalf("replied events %+v, want one by inbound", evs)
			}
			var data struct {
				From, Text, Notice string
				Auto               bool
			}
			if err := json.Unmarshal(evs[0].Data, &data); err != nil {
				t.Fatal(err)
			}
			if data.From != tt.from || data.Notice != refA || data.Auto != tt.auto || !bytes.Contains([]byte(data.Text), []byte(tt.text)) {
				t.Errorf("event data %+v, want from %s, auto %v, text with %q", data, tt.from, tt.auto, tt.text)
			}
			want := []string{caseA1, caseA2}
			if tt.auto {
				want = nil
			}
			if got := f.checked(); !slices.Equal(got, want) {
				t.Errorf("checks requested for %v, want %v", got, want)
			}
		})
	}
}

func TestIngestSameMessageTwiceRecordsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	raw := sample(t, "reply-plain.eml")
	if res, err := f.in.Ingest(t.Context(), raw); err != nil || res.Kind != KindReply {
		t.Fatalf("first ingest: %+v %v", res, err)
	}
	res, err := f.in.Ingest(t.Context(), raw)
	if err != nil || res.Kind != KindDuplicate {
		t.Fatalf("second ingest: %+v %v, want a duplicate", res, err)
	}
	if evs := f.events(t, caseA1, takedown.EventReplied); len(evs) != 1 {
		t.Errorf("%d replied events, want 1", len(evs))
	}
	if got := f.checked(); len(got) != 2 {
		t.Errorf("checks requested %v, want one per case", got)
	}
}

func TestIngestBounces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file        string
		kind        Kind
		caseID      string
		state       takedown.State // after
		failing     bool
		outcome     string
		rerouted    bool
		event       takedown.EventType
		eventStatus string
	}{
		// A failed delivery leaves the case where it is (its checks go
		// on) and has its next contact told; a removed case has nobody
		// left to tell about anything.
		{"dsn-postfix-511.eml", KindBounce, caseA1, takedown.StateNoticed, true, "failed", true, takedown.EventNoticeFailed, "5.1.1"},
		{"dsn-postfix-511.eml", KindBounce, caseA2, takedown.StateRemoved, true, "failed", false, takedown.EventNoticeFailed, "5.1.1"},
		{"bounce-qmail.eml", KindBounce, caseA1, takedown.StateNoticed, true, "failed", true, takedown.EventNoticeFailed, "5.1.1"},
		{"dsn-exim.eml", KindBounce, caseB, takedown.StateNoticed, true, "failed", true, takedown.EventNoticeFailed, "5.0.0"},
		{"dsn-delayed.eml", KindDelay, caseA1, takedown.StateNoticed, false, "sent", false, takedown.EventNoticeDelayed, "4.4.1"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.caseID, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res, err := f.in.Ingest(t.Context(), sample(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tt.kind || !slices.Contains(res.Cases, tt.caseID) || slices.Contains(res.Rerouted, tt.caseID) != tt.rerouted {
				t.Errorf("result %+v, want %s on %s, rerouted %v", res, tt.kind, tt.caseID, tt.rerouted)
			}
			c, _, err := f.st.GetCase(t.Context(), tt.caseID)
			if err != nil {
				t.Fatal(err)
			}
			to := c.Notices[0].To
			if c.State != tt.state || containsFold(c.Routing.Failing, to) != tt.failing || c.Notices[0].Outcome != tt.outcome {
				t.Errorf("case %s: state %s failing %v outcome %s; want %s, failing %v, %s", tt.caseID, c.State, c.Routing.Failing, c.Notices[0].Outcome, tt.state, tt.failing, tt.outcome)
			}
			if got := f.routeWork(t, tt.caseID); (got != nil) != tt.rerouted || got != nil && got.Failed != res.Ref {
				t.Errorf("route work queued %+v, want %v naming %s", got, tt.rerouted, res.Ref)
			}
			// Matched by what they quote, not by VERP: evidence for their
			// own cases only.
			if marked := f.marked(t, to); len(marked) != 0 {
				t.Errorf("a bounce matched by %s marked %v failing for every case", res.MatchedBy, marked)
			}
			evs := f.events(t, tt.caseID, tt.event)
			if len(evs) != 1 || evs[0].Actor != "inbound" || evs[0].To != tt.state {
				t.Fatalf("%s events %+v, want one by inbound moving to %s", tt.event, evs, tt.state)
			}
			var data struct{ Status, Diagnostic string }
			if err := json.Unmarshal(evs[0].Data, &data); err != nil || data.Status != tt.eventStatus || data.Diagnostic == "" {
				t.Errorf("event data %s, want status %s and a diagnostic", evs[0].Data, tt.eventStatus)
			}
			if len(f.checked()) != 0 {
				t.Errorf("a bounce asked for checks: %v", f.checked())
			}
		})
	}
}

// TestBounceAfterReroute: a second bounce of the same notice (another
// MTA's report) finds the address failing already and records only.
func TestBounceAfterReroute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.in.Ingest(t.Context(), sample(t, "dsn-postfix-511.eml")); err != nil {
		t.Fatal(err)
	}
	res, err := f.in.Ingest(t.Context(), sample(t, "bounce-qmail.eml"))
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := f.st.GetCase(t.Context(), caseA1)
	if n := len(c.Routing.Failing); n != 1 {
		t.Errorf("failing %v, want the address once", c.Routing.Failing)
	}
	// The next contact was asked for by the first bounce: asking again is
	// harmless (the same work id) and repairs a crash in between.
	if !slices.Equal(res.Rerouted, []string{caseA1}) {
		t.Errorf("rerouted %v, want %s (idempotent repeat)", res.Rerouted, caseA1)
	}
	if evs := f.events(t, caseA1, takedown.EventNoticeFailed); len(evs) != 2 {
		t.Errorf("%d notice_failed events, want one per bounce message", len(evs))
	}
}

func TestIngestUnmatchedIsDeadLettered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"junk", sample(t, "junk.eml"), "no notice reference"},
		{"unknown reference", sample(t, "reply-unknown-ref.eml"), "no notice with reference TD-20250101-ZZZZZZ"},
		{"not a message", []byte("\x00\x01 garbage without a header"), "unreadable message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res, err := f.in.Ingest(t.Context(), tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindUnmatched {
				t.Errorf("kind %s, want unmatched", res.Kind)
			}
			dls, err := f.st.DeadLetters(t.Context(), 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(dls) != 1 || dls[0].Subject != "takedown.dlq.inbound" || dls[0].By != "inbound" || !bytes.Equal(dls[0].Data, tt.raw) {
				t.Fatalf("dead letters %+v, want the message kept whole on takedown.dlq.inbound", dls)
			}
			if !bytes.Contains([]byte(dls[0].Reason), []byte(tt.reason)) {
				t.Errorf("reason %q lacks %q", dls[0].Reason, tt.reason)
			}
		})
	}
}

// A reply or bounce to a notice of a case that retention anonymised is
// not written back onto its redacted trail.
func TestNothingWrittenBackOntoAnAnonymisedCase(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"reply-plain.eml", "bounce-qmail.eml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if _, err := f.st.Update(t.Context(), caseA1, func(c *takedown.Case) ([]takedown.Event, error) {
				c.Anonymised = &takedown.Anonymised{URLHash: "h", TimelineRedacted: true}
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.in.Ingest(t.Context(), sample(t, file)); err != nil {
				t.Fatal(err)
			}
			all, err := f.st.Timeline(t.Context(), caseA1)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 0 {
				t.Errorf("the anonymised case got %d events: %+v", len(all), all)
			}
		})
	}
}
