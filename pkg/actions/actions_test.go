package actions

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

type world struct {
	t    *testing.T
	st   *store.Store
	svc  *Service
	book *kvbook.Book
	seq  atomic.Uint64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	book, err := kvbook.Open(t.Context(), st, log)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Options{Store: st, Contacts: book, MaxPause: 30 * 24 * time.Hour, Log: log,
		Partners: map[string]route.Partner{"DE": {Country: "DE", Name: "eco", Channel: "email", Address: "in@eco.example"}, "FR": {Country: "FR", Name: "PDC", Channel: "email"}}})
	return &world{t: t, st: st, svc: svc, book: book}
}

// enrichment is an enriched Dutch case's, hosted at 192.0.2.10 in
// 192.0.2.0/24 (AS64500).
func enrichment() *takedown.Enrichment {
	return &takedown.Enrichment{
		At: time.Now(), Host: "www.site.nl", Country: takedown.CountryDecision{Country: "NL"},
		Addresses: []takedown.AddressInfo{{IP: "192.0.2.10", ASN: 64500, Network: "NET-1"}},
		Networks:  []takedown.Network{{Handle: "NET-1", CIDRs: []string{"192.0.0.0/16", "192.0.2.0/24"}}},
	}
}

// add stores a case as mut makes it, from an enriched one.
func (w *world) add(mut func(c *takedown.Case)) string {
	w.t.Helper()
	id := store.CaseID(time.Now(), w.seq.Add(1))
	c := takedown.Case{ID: id, URL: "http://www.site.nl/a.jpg", Host: "www.site.nl", Domain: "site.nl", State: takedown.StateEnriched,
		ReceivedAt: time.Now(), Enrichment: enrichment()}
	if mut != nil {
		mut(&c)
	}
	if _, err := w.st.CreateCase(w.t.Context(), c); err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) do(id, by string, body string) (Result, error) {
	w.t.Helper()
	req, err := Decode(strings.NewReader(body))
	if err != nil {
		return Result{}, err
	}
	return w.svc.Do(w.t.Context(), id, Actor{Name: by}, req)
}

// work is the body of the last unit of work for the case at stage, if
// any.
func (w *world) work(stage, id string) ([]byte, bool) {
	w.t.Helper()
	s, err := w.st.JetStream().Stream(w.t.Context(), store.WorkStream)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(w.t.Context(), store.WorkSubject(stage, id))
	if err != nil {
		return nil, false
	}
	return m.Data, true
}

func inReview(reason string, mut func(c *takedown.Case)) func(c *takedown.Case) {
	return func(c *takedown.Case) {
		c.State, c.StateReason = takedown.StateReview, reason
		if mut != nil {
			mut(c)
		}
	}
}

var sentFirst = []takedown.NoticeRef{{Ref: "TD-1", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@site.nl", Outcome: "failed"}}

// TestEveryReviewReasonMovesOn: each reason a case lands in review for has
// an action that moves it on — to the stage that acts next, or closed.
// The reasons are those of route.Decide, the notify stage (a notice that
// failed, nobody left), the enrich stage (a URL that no longer parses,
// DNS failing) and a partner hotline's status report.
func TestEveryReviewReasonMovesOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	noEnrichment := func(c *takedown.Case) { c.Enrichment = nil }
	watched := func(c *takedown.Case) {
		c.Notices, c.Checks = sentFirst, &takedown.CheckState{WatchedSince: time.Now(), Checks: 2}
	}
	tests := []struct {
		reason string
		mut    func(c *takedown.Case)
		action string
		state  takedown.State
		work   []string // stages asked
	}{
		// route.Decide
		{"case has no enrichment", noEnrichment, `{"action":"retry_enrichment"}`, takedown.StateReview, []string{store.StageEnrich}},
		{"behind Cloudflare; CDN notices are switched off", nil, `{"action":"add_contact","contact":{"email":"abuse@origin.nl"},"note":"the origin, from the site's own page"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"behind Cloudflare, which has no working abuse contact", nil, `{"action":"route","contact":{"email":"abuse@cloudflare.com"},"reason":"a new address"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"hosting country unknown", nil, `{"action":"route","partner":"DE","reason":"hosted in Germany, says the partner"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{`hosting country unclear: GeoIP says "NL", RDAP says "DE"`, nil, `{"action":"route","contact":{"email":"abuse@hoster.de","language":"de"}}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"hosted in NL but no working abuse contact found", nil, `{"action":"add_contact","contact":{"email":"abuse@site.nl"},"remember":"network"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"hosted in US, which has no partner hotline; direct notices abroad are switched off", nil, `{"action":"route","contact":{"email":"abuse@hoster.us"},"reason":"they act fast"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"hosted in US, no partner hotline and no working abuse contact", nil, `{"action":"add_contact","contact":{"email":"abuse@hoster.us"}}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"the contact alice chose, abuse@gone.nl, is failing", nil, `{"action":"route","contact":{"email":"desk@site.nl"}}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"the partner hotline alice chose (FR) takes no forwards", nil, `{"action":"route","partner":"DE"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"hosted in NL but no working abuse contact found", nil, `{"action":"close","as":"not_actionable","reason":"the site is a honeypot of the police"}`, takedown.StateClosed, nil},
		// notify: a first notice that failed, or nobody left to tell
		{"notice to abuse@site.nl failed: temporary: 451 try later", watched, `{"action":"route","contact":{"email":"abuse@site.nl"},"reason":"the mailbox works again"}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"every contact failed: abuse@site.nl", watched, `{"action":"add_contact","contact":{"email":"desk@site.nl"}}`, takedown.StateEnriched, []string{store.StageRoute}},
		{"no contact to tell: the route and its escalation chain name nobody", nil, `{"action":"add_contact","contact":{"email":"desk@site.nl"},"remember":"asn"}`, takedown.StateEnriched, []string{store.StageRoute}},
		// enrich
		{"url no longer parses: bad host", noEnrichment, `{"action":"close","as":"not_actionable","reason":"cannot be reached"}`, takedown.StateClosed, nil},
		{"dns failed 3 times: servfail", noEnrichment, `{"action":"retry_enrichment","note":"their DNS is back"}`, takedown.StateReview, []string{store.StageEnrich}},
		// a partner hotline: not illegal in its country
		{"the partner hotline (hotline-de) reports the material is not illegal in its country", func(c *takedown.Case) {
			c.Notices = []takedown.NoticeRef{{Ref: "TD-F", Kind: "forward", Level: "partner", To: "in@eco.example", Partner: "DE", Outcome: "sent"}}
			c.Routing = &takedown.Routing{Kind: takedown.RoutePartner, Country: "DE"}
		}, `{"action":"route","contact":{"email":"abuse@hoster.de"},"reason":"our law applies: notice the hoster directly"}`, takedown.StateEnriched, []string{store.StageRoute}},
	}
	for _, tt := range tests {
		id := w.add(inReview(tt.reason, tt.mut))
		res, err := w.do(id, "alice", tt.action)
		if err != nil {
			t.Errorf("%s: %s: %v", tt.reason, tt.action, err)
			continue
		}
		if res.Case.State != tt.state || !slices.Equal(res.Work, tt.work) {
			t.Errorf("%s: %s: state %s work %v, want %s %v", tt.reason, tt.action, res.Case.State, res.Work, tt.state, tt.work)
		}
		for _, stage := range tt.work {
			if _, ok := w.work(stage, id); !ok {
				t.Errorf("%s: no %s work queued", tt.reason, stage)
			}
		}
		if res.Event.Actor != "alice" || res.Event.Action() == "" || res.Event.From != takedown.StateReview && res.Case.State != takedown.StateReview {
			t.Errorf("%s: event %+v", tt.reason, res.Event)
		}
		tl, err := w.st.Timeline(t.Context(), id)
		if err != nil || !slices.ContainsFunc(tl, func(e takedown.Event) bool { return e.ID == res.Event.ID && e.Actor == "alice" }) {
			t.Errorf("%s: the action's event is not on the timeline: %+v (%v)", tt.reason, tl, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	state := func(s takedown.State) func(c *takedown.Case) { return func(c *takedown.Case) { c.State = s } }
	noticed := func(c *takedown.Case) {
		c.State, c.Notices = takedown.StateNoticed, []takedown.NoticeRef{{Ref: "TD-1", Kind: "first", Level: "hoster", To: "abuse@site.nl", Outcome: "sent"}}
	}
	noCIDR := func(c *takedown.Case) { c.Enrichment.Networks = nil }
	other := w.add(nil)
	tests := []struct {
		name  string
		mut   func(c *takedown.Case)
		body  string
		state takedown.State // 409 with this state, or
		field string         // 400 naming this field
	}{
		{"check a closed case", state(takedown.StateClosed), `{"action":"check"}`, takedown.StateClosed, ""},
		{"check a case nobody was told about", state(takedown.StateReview), `{"action":"check"}`, takedown.StateReview, ""},
		{"report a removal nobody checks", state(takedown.StateReview), `{"action":"mark_removed","note":"gone"}`, takedown.StateReview, ""},
		{"report a confirmed removal", state(takedown.StateRemoved), `{"action":"mark_removed"}`, takedown.StateRemoved, ""},
		{"route a removed case", state(takedown.StateRemoved), `{"action":"route","contact":{"email":"a@b.nl"}}`, takedown.StateRemoved, ""},
		{"retry the enrichment of a removed case", state(takedown.StateRemoved), `{"action":"retry_enrichment"}`, takedown.StateRemoved, ""},
		{"resume what is not paused", noticed, `{"action":"resume"}`, takedown.StateNoticed, ""},
		{"close a closed case", state(takedown.StateClosed), `{"action":"close","as":"not_actionable","reason":"x"}`, takedown.StateClosed, ""},
		{"partner status of a case not forwarded", noticed, `{"action":"partner_status","status":"removed"}`, takedown.StateNoticed, ""},
		{"remember by a network without a CIDR", noCIDR, `{"action":"add_contact","contact":{"email":"a@b.nl"},"remember":"network"}`, takedown.StateEnriched, ""},
		{"a duplicate of itself", nil, `{"action":"close","as":"duplicate","duplicate_of":"SELF","reason":"x"}`, "", "duplicate_of"},
		{"a duplicate of no case", nil, `{"action":"close","as":"duplicate","duplicate_of":"0000000000000Z99","reason":"x"}`, "", "duplicate_of"},
		{"a duplicate of something else", nil, `{"action":"close","as":"duplicate","duplicate_of":"../etc","reason":"x"}`, "", "duplicate_of"},
		{"a partner that takes no forwards", nil, `{"action":"route","partner":"FR"}`, "", "partner"},
		{"a partner nobody lists", nil, `{"action":"route","partner":"XX"}`, "", "partner"},
		{"a pause that ended", noticed, `{"action":"pause","until":"2020-01-01T00:00:00Z","reason":"x"}`, "", "until"},
		{"a pause beyond the bound", noticed, `{"action":"pause","until":"2000h","reason":"x"}`, "", "until"},
		{"a pause until a word", noticed, `{"action":"pause","until":"soon","reason":"x"}`, "", "until"},
	}
	for _, tt := range tests {
		id := w.add(tt.mut)
		body := strings.ReplaceAll(tt.body, "SELF", id)
		_, err := w.do(id, "alice", body)
		var re *RefusedError
		var fe *FieldError
		switch {
		case tt.field != "":
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("%s: %v, want a problem with field %s", tt.name, err, tt.field)
			}
		case !errors.As(err, &re) || re.State != tt.state || re.CaseID != id || re.Reason == "":
			t.Errorf("%s: %v, want refused with state %s", tt.name, err, tt.state)
		}
		if c, _, _ := w.st.GetCase(t.Context(), id); len(c.AddedContacts) > 0 || c.Pause != nil || c.RouteTo != nil {
			t.Errorf("%s: a refused action changed the case: %+v", tt.name, c)
		}
	}
	if _, err := w.do(other, "alice", `{"action":"close","as":"duplicate","duplicate_of":"`+other+`","reason":"x"}`); err == nil {
		t.Error("a case closed as a duplicate of itself")
	}
	if _, err := w.svc.Do(t.Context(), "0000000000000Z98", Actor{Name: "alice"}, Request{Action: takedown.ActionCheck}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("action on no case: %v, want not found", err)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, field, msg string
	}{
		{`[]`, "", "not a JSON object"},
		{`{"action":"check"} {}`, "", "trailing data"},
		{`null`, "", "not a JSON object"},
		{`{"action":"check","colour":"red"}`, "colour", "unknown field"},
		{`{"action":"check","action":"close"}`, "action", "appears twice"},
		{`{"action":"pause","until":48,"reason":"x"}`, "until", "want a string"},
		{`{"action":"check","reason":"why"}`, "reason", "not used by check"},
		{`{}`, "action", "missing"},
		{`{"action":"reboot"}`, "action", `unknown action "reboot"`},
		{`{"action":"route"}`, "contact", "give a contact or a partner"},
		{`{"action":"route","contact":{"email":"a@b.nl"},"partner":"DE"}`, "partner", "not both"},
		{`{"action":"route","contact":{"email":"Abuse <a@b.nl>"}}`, "contact.email", "not a bare e-mail address"},
		{`{"action":"route","contact":{"email":"root@localhost"}}`, "contact.email", "not a bare e-mail address"},
		{`{"action":"add_contact","contact":{"email":"a@b.nl","language":"dutch"}}`, "contact.language", "two-letter"},
		{`{"action":"add_contact","contact":{"email":"a@b.nl"},"remember":"forever"}`, "remember", "want domain, network or asn"},
		{`{"action":"add_contact"}`, "contact", "missing"},
		{`{"action":"pause","reason":"x"}`, "until", "missing"},
		{`{"action":"pause","until":"48h"}`, "reason", "missing"},
		{`{"action":"close","reason":"x"}`, "as", "missing"},
		{`{"action":"close","as":"spam","reason":"x"}`, "as", "want not_actionable or duplicate"},
		{`{"action":"close","as":"duplicate","reason":"x"}`, "duplicate_of", "missing"},
		{`{"action":"close","as":"not_actionable","duplicate_of":"0000000000000A01","reason":"x"}`, "duplicate_of", "only for as: duplicate"},
		{`{"action":"close","as":"not_actionable"}`, "reason", "missing"},
		{`{"action":"partner_status","status":"done"}`, "status", "want removed, in_progress or not_illegal"},
		{`{"action":"mark_removed","note":"a\u0000b"}`, "note", "control character"},
		{`{"action":"mark_removed","note":"` + strings.Repeat("x", 2001) + `"}`, "note", "over 2000 bytes"},
	}
	for _, tt := range tests {
		_, err := Decode(strings.NewReader(tt.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("Decode(%.60s) = %v, want field %q with %q", tt.body, err, tt.field, tt.msg)
		}
	}
	req, err := Decode(strings.NewReader(`{"action":"route","contact":{"email":" abuse@site.nl ","language":"NL"},"reason":"phoned"}`))
	if err != nil || req.Contact.Email != "abuse@site.nl" || req.Contact.Language != "nl" {
		t.Errorf("Decode of a good route = %+v, %v", req, err)
	}
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Queued for its first notice: routed again, so its routing waits.
	queued := w.add(func(c *takedown.Case) { c.State = takedown.StateRouted })
	res, err := w.do(queued, "alice", `{"action":"pause","until":"48h","reason":"investigation 4711 asks to hold"}`)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Case
	if c.State != takedown.StateEnriched || c.Pause == nil || c.Pause.By != "alice" || c.Pause.Until.Sub(time.Now()) < 47*time.Hour ||
		!slices.Equal(res.Work, []string{store.StageRoute}) || res.Event.Type != takedown.EventNoticesPaused || res.Event.From != takedown.StateRouted {
		t.Errorf("paused a queued case: %+v, work %v, event %+v", c, res.Work, res.Event)
	}
	if !c.NoticesPaused(time.Now()) {
		t.Error("the case's notices are not paused")
	}
	res, err = w.do(queued, "bob", `{"action":"resume","reason":"the investigation is done"}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Case.Pause != nil || !slices.Equal(res.Work, []string{store.StageRoute}) || res.Event.Actor != "bob" {
		t.Errorf("resumed: %+v, work %v", res.Case, res.Work)
	}
	// Routed to the next contact after a bounce: the new first notice
	// waits in its batch, so it is held too; one being sent is not.
	bounced := w.add(func(c *takedown.Case) {
		c.State, c.Notices = takedown.StateRouted, []takedown.NoticeRef{{Ref: "TD-0", Kind: "first", Level: "hoster", To: "abuse@site.nl", Outcome: "failed"}}
	})
	if res, err := w.do(bounced, "alice", `{"action":"pause","until":"1h","reason":"hold"}`); err != nil || res.Case.State != takedown.StateEnriched {
		t.Errorf("paused after a bounce: %v, %+v", err, res.Case)
	}
	sending := w.add(func(c *takedown.Case) {
		c.State, c.Notices = takedown.StateRouted, []takedown.NoticeRef{{Ref: "TD-0", Kind: "first", Level: "hoster", To: "abuse@site.nl", Outcome: "sending"}}
	})
	if res, err := w.do(sending, "alice", `{"action":"pause","until":"1h","reason":"hold"}`); err != nil || res.Case.State != takedown.StateRouted || len(res.Work) != 0 {
		t.Errorf("paused while its notice is sent: %v, %+v", err, res.Case)
	}
	// Noticed: only what comes due waits; the checks and the state stay.
	noticed := w.add(func(c *takedown.Case) {
		c.State, c.Notices = takedown.StateNoticed, []takedown.NoticeRef{{Ref: "TD-1", Kind: "first", Level: "hoster", To: "abuse@site.nl", Outcome: "sent"}}
	})
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	res, err = w.do(noticed, "alice", `{"action":"pause","until":"`+until.Format(time.RFC3339)+`","reason":"hold"}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Case.State != takedown.StateNoticed || !res.Case.Pause.Until.Equal(until) || len(res.Work) != 0 {
		t.Errorf("paused a noticed case: %+v, work %v", res.Case, res.Work)
	}
	var data struct {
		Action string    `json:"action"`
		Until  time.Time `json:"until"`
		Reason string    `json:"reason"`
	}
	if err := json.Unmarshal(res.Event.Data, &data); err != nil || data.Action != "pause" || !data.Until.Equal(until) || data.Reason != "hold" {
		t.Errorf("event data %s (%v)", res.Event.Data, err)
	}
	if _, ok := w.work(store.StageRoute, noticed); ok {
		t.Error("pausing a noticed case queued routing")
	}
}

func TestRemovalReportAsksForACheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := w.add(func(c *takedown.Case) {
		c.State, c.Notices = takedown.StateNoticed, []takedown.NoticeRef{{Ref: "TD-1", Kind: "first", Level: "hoster", To: "abuse@site.nl", Outcome: "sent"}}
	})
	req := Request{Action: takedown.ActionMarkRemoved, Note: "deleted at 10:02"}
	for range 3 {
		res, err := w.svc.Do(t.Context(), id, Actor{Name: "hoster-a", External: true}, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Case.State != takedown.StateNoticed || res.Event.Type != takedown.EventRemovalReported || !slices.Equal(res.Work, []string{store.StageCheck}) {
			t.Errorf("removal report: %s, %+v, %v", res.Case.State, res.Event, res.Work)
		}
	}
	body, ok := w.work(store.StageCheck, id)
	var cr takedown.CheckRequest
	if !ok || json.Unmarshal(body, &cr) != nil || cr.Kind != takedown.CheckNow || cr.By != "hoster-a" {
		t.Fatalf("check work %s (%v)", body, ok)
	}
	// An outside party's reports within one minute are one check.
	s, err := w.st.JetStream().Stream(t.Context(), store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs > 2 { // the same minute, or two when the minute turned
		t.Errorf("%d check requests queued for 3 reports, want at most 2", info.State.Msgs)
	}
	tl, _ := w.st.Timeline(t.Context(), id)
	if n := len(tl); n != 3 {
		t.Errorf("%d events, want each report recorded", n)
	}
}

func TestRememberedContact(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := w.add(inReview("hosted in NL but no working abuse contact found", nil))
	res, err := w.do(id, "alice", `{"action":"add_contact","contact":{"email":"abuse@site.nl","name":"Site B.V.","language":"nl"},"remember":"network","note":"phoned the desk"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Case.AddedContacts) != 1 || res.Case.AddedContacts[0].Source.Kind != takedown.SourceManual || res.Case.AddedContacts[0].Source.Handle != "alice" {
		t.Errorf("added contacts %+v", res.Case.AddedContacts)
	}
	recs, err := w.book.Records(t.Context())
	if err != nil || len(recs) != 1 || recs[0].Key() != "network.192.0.2.0/24" || recs[0].Emails[0] != "abuse@site.nl" || recs[0].Case != id || recs[0].By != "alice" {
		t.Errorf("remembered %+v (%v), want the /24 of the case's address", recs, err)
	}
	for by, key := range map[string]string{"domain": "domain.site.nl", "asn": "asn.64500"} {
		other := w.add(nil)
		res, err := w.do(other, "alice", `{"action":"add_contact","contact":{"email":"desk@site.nl"},"remember":"`+by+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ Key string }
		if json.Unmarshal(res.Event.Data, &d) != nil || d.Key != key {
			t.Errorf("remember by %s: key %q, want %s", by, d.Key, key)
		}
	}
}

func TestCloseAndPartnerStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := w.add(nil)
	dup := w.add(nil)
	res, err := w.do(dup, "alice", `{"action":"close","as":"duplicate","duplicate_of":"`+first+`","reason":"the same image under another name"}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.Case.State != takedown.StateClosed || !strings.Contains(res.Case.StateReason, "duplicate of "+first) || res.Event.Type != takedown.EventClosed || res.Event.To != takedown.StateClosed {
		t.Errorf("closed as duplicate: %+v, %+v", res.Case, res.Event)
	}
	fwd := w.add(func(c *takedown.Case) {
		c.State = takedown.StateForwarded
		c.Routing = &takedown.Routing{Kind: takedown.RoutePartner, Country: "DE"}
		c.Notices = []takedown.NoticeRef{{Ref: "TD-F", Kind: "forward", Level: "partner", To: "in@eco.example", Partner: "DE", Outcome: "sent"}}
	})
	partner := Actor{Name: "hotline-de", External: true}
	res, err = w.svc.Do(t.Context(), fwd, partner, Request{Action: takedown.ActionPartnerStatus, Status: StatusInProgress, Note: "with the police"})
	if err != nil || res.Case.State != takedown.StateForwarded || len(res.Work) != 0 {
		t.Fatalf("in progress: %+v, %v", res, err)
	}
	res, err = w.svc.Do(t.Context(), fwd, partner, Request{Action: takedown.ActionPartnerStatus, Status: StatusRemoved})
	if err != nil || !slices.Equal(res.Work, []string{store.StageCheck}) {
		t.Fatalf("removed: %+v, %v", res, err)
	}
	res, err = w.svc.Do(t.Context(), fwd, partner, Request{Action: takedown.ActionPartnerStatus, Status: StatusNotIllegal, Note: "drawn, legal here"})
	if err != nil || res.Case.State != takedown.StateReview || !strings.Contains(res.Case.StateReason, "not illegal in its country: drawn, legal here") {
		t.Fatalf("not illegal: %+v, %v", res.Case, err)
	}
}
