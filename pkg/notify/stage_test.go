package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/notify/webhook"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/simnet/webhooksim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

type harness struct {
	t       testing.TB
	stage   *Stage
	store   *store.Store
	relay   *smtpsim.Server
	seq     atomic.Uint64
	noticed sync.Map // case id -> count of OnNoticed calls
}

func newHarness(t *testing.T, mut func(*config.Notify), wrap func(Mailer) Mailer, more ...func(*Options)) *harness {
	return newHarnessTB(t, mut, wrap, more...)
}

func newBenchHarness(b *testing.B, mut func(*config.Notify)) *harness {
	return newHarnessTB(b, mut, nil)
}

func newHarnessTB(t testing.TB, mut func(*config.Notify), wrap func(Mailer) Mailer, more ...func(*Options)) *harness {
	t.Helper()
	ns := natstest.Start(t)
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 100 * time.Millisecond}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	return newHarnessOn(t, st, relay, mut, wrap, more...)
}

// newHarnessOn runs a stage on a store and relay of the caller's: several
// of them make replicas of the daemon sharing one NATS and one relay.
func newHarnessOn(t testing.TB, st *store.Store, relay *smtpsim.Server, mut func(*config.Notify), wrap func(Mailer) Mailer, more ...func(*Options)) *harness {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default().Notify
	cfg.BatchWindow = 400 * time.Millisecond
	cfg.RetryBackoff = []time.Duration{50 * time.Millisecond}
	if mut != nil {
		mut(&cfg)
	}
	sender, err := smtp.New(smtp.Config{Host: relay.Host(), Port: relay.Port(), TLS: smtp.TLSNone, HeloName: "takedownd.test",
		CommandTimeout: 2 * time.Second, MessageTimeout: 5 * time.Second, PoolSize: cfg.SMTP.PoolSize}, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	renderer, err := notice.NewRenderer(notice.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, relay: relay}
	var mailer Mailer = sender
	if wrap != nil {
		mailer = wrap(sender)
	}
	opts := Options{
		Config: cfg, Renderer: renderer, Mailer: mailer, Now: time.Now, Log: log, RouteWorkers: 4,
		Policy: route.Policy{HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: route.AbroadNotice, CDNNotice: true},
		OnNoticed: func(_ context.Context, id string, _ time.Time) error {
			v, _ := h.noticed.LoadOrStore(id, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
			return nil
		},
	}
	for _, f := range more {
		f(&opts)
	}
	h.stage, err = New(t.Context(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.stage.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stage stopped with error: %v", err)
		}
	})
	return h
}

// enrichedCase stores a case as enrichment leaves it and asks for routing.
func (h *harness) enrichedCase(url string, priority takedown.Priority, contacts ...string) string {
	h.t.Helper()
	return h.enrichedCaseIn("NL", url, priority, contacts...)
}

func (h *harness) enrichedCaseIn(country, url string, priority takedown.Priority, contacts ...string) string {
	h.t.Helper()
	return h.enrichedCaseWith(country, url, priority, nil, contacts...)
}

// enrichedCaseWith is enrichedCaseIn with the enrichment changed by mut
// before the case is stored.
func (h *harness) enrichedCaseWith(country, url string, priority takedown.Priority, mut func(*takedown.Enrichment), contacts ...string) string {
	h.t.Helper()
	id := store.CaseID(time.Now(), h.seq.Add(1))
	e := &takedown.Enrichment{At: time.Now(), Host: "host.example.nl", Country: takedown.CountryDecision{Country: country},
		Addresses: []takedown.AddressInfo{{IP: "192.0.2.10", Country: "NL"}}}
	for _, c := range contacts {
		e.Contacts = append(e.Contacts, takedown.Contact{Email: c, Role: "hoster", Source: takedown.Source{Kind: "rdap_ip"}})
	}
	if mut != nil {
		mut(e)
	}
	c := takedown.Case{ID: id, URL: url, Host: "host.example.nl", State: takedown.StateEnriched, Priority: priority,
		Classification: takedown.ClassA1, Enrichment: e, ReceivedAt: time.Now()}
	c.AddReport(takedown.ReportRef{ReportID: "r-" + id, ConfirmedAt: time.Now().Add(-time.Hour), Classification: takedown.ClassA1, Priority: priority})
	if _, err := h.store.CreateCase(h.t.Context(), c); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Enqueue(h.t.Context(), store.StageRoute, id, "route-"+id, nil); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// waitBound bounds a test's wait for a condition. It is not a speed
// claim: the tests go on as soon as the condition holds, and the bound is
// only there so that a test that would wait forever fails. It is generous
// because CI runs on a busy 2-core machine beside other test suites.
const waitBound = 2 * time.Minute

// waitUntil polls cond until it holds, failing the test after waitBound.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitBound); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) waitMessages(n int) []smtpsim.Message {
	h.t.Helper()
	return h.waitMessagesFor(n, waitBound)
}

// latencies returns, per URL that reached the relay, the time from its
// routing request (sentAt) to the relay's receipt, approximated by now.
func (h *harness) latencies(sentAt map[string]time.Time) []time.Duration {
	var out []time.Duration
	for _, m := range h.relay.Messages() {
		for url, at := range sentAt {
			if bytes.Contains(m.Data, []byte(url+"\r\n")) || bytes.Contains(m.Data, []byte(url+"\n")) {
				out = append(out, m.At.Sub(at))
			}
		}
	}
	return out
}

func (h *harness) waitMessagesFor(n int, d time.Duration) []smtpsim.Message {
	h.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if msgs := h.relay.Messages(); len(msgs) >= n {
			return msgs
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("relay got %d messages, want %d", len(h.relay.Messages()), n)
	return nil
}

// sentNotices waits until each case is noticed with exactly one notice
// sent, and returns the notices' references.
func (h *harness) sentNotices(ids []string) map[string]bool {
	h.t.Helper()
	refs := map[string]bool{}
	for _, id := range ids {
		c := h.waitState(id, takedown.StateNoticed)
		if len(c.Notices) != 1 || c.Notices[0].Outcome != "sent" {
			h.t.Errorf("case %s notices %+v, want exactly one sent", id, c.Notices)
			continue
		}
		refs[c.Notices[0].Ref] = true
	}
	return refs
}

func (h *harness) waitState(id string, want takedown.State) takedown.Case {
	h.t.Helper()
	deadline := time.Now().Add(waitBound)
	var c takedown.Case
	for time.Now().Before(deadline) {
		c, _, _ = h.store.GetCase(h.t.Context(), id)
		if c.State == want {
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("case %s in state %s (%s), want %s", id, c.State, c.StateReason, want)
	return c
}

func header(t *testing.T, raw []byte, key string) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v", err)
	}
	return m.Header.Get(key)
}

func TestBatchOneNoticePerContactAndWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, nil)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.enrichedCase(fmt.Sprintf("http://host.example.nl/%d.jpg", i), takedown.PriorityNormal, "abuse@hoster.nl"))
	}
	other := h.enrichedCase("http://other.example.nl/x.jpg", takedown.PriorityNormal, "abuse@other.nl")
	msgs := h.waitMessages(2)
	for _, id := range append(ids, other) {
		c := h.waitState(id, takedown.StateNoticed)
		if len(c.Notices) != 1 || c.Notices[0].Outcome != "sent" || c.Notices[0].MessageID == "" {
			t.Errorf("case %s notices = %+v", id, c.Notices)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := len(h.relay.Messages()); got != 2 {
		t.Fatalf("relay got %d messages, want one per contact (2)", got)
	}
	for _, m := range msgs {
		xarfs := bytes.Count(m.Data, []byte("xarf-"))
		switch m.To[0] {
		case "abuse@hoster.nl":
			if !bytes.Contains(m.Data, []byte("host.example.nl/4.jpg")) || xarfs < 5 {
				t.Errorf("hoster notice lacks its 5 URLs (%d x-arf mentions)", xarfs)
			}
		case "abuse@other.nl":
		default:
			t.Errorf("mail to %v", m.To)
		}
		if header(t, m.Data, "Auto-Submitted") != "auto-generated" {
			t.Error("notice lacks Auto-Submitted: auto-generated")
		}
	}
	c, _, _ := h.store.GetCase(t.Context(), ids[0])
	rec, err := h.stage.Notice(t.Context(), c.Notices[0].Ref)
	if err != nil || len(rec.Items) != 5 || rec.State != takedown.NoticeSent {
		t.Errorf("notice record: %+v, %v", rec, err)
	}
}

func TestHighPrioritySkipsTheWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = time.Hour }, nil)
	urgent := h.enrichedCase("http://host.example.nl/urgent.jpg", takedown.PriorityHigh, "abuse@hoster.nl")
	normal := h.enrichedCase("http://host.example.nl/normal.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	h.waitMessages(1)
	h.waitState(urgent, takedown.StateNoticed)
	// The normal case may be routed after the urgent one was sent; either
	// way it waits in its hour-long window.
	h.waitState(normal, takedown.StateRouted)
	if n := len(h.relay.Messages()); n != 1 {
		t.Errorf("relay got %d messages, want only the urgent notice", n)
	}
}

func TestPermanentFailureTriesNextContact(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	h.relay.SetFault("abuse@gone.nl", smtpsim.PermRcpt)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@gone.nl", "noc@hoster.nl")
	msgs := h.waitMessages(1)
	if msgs[0].To[0] != "noc@hoster.nl" {
		t.Errorf("delivered to %v, want the second contact", msgs[0].To)
	}
	c := h.waitState(id, takedown.StateNoticed)
	if len(c.Notices) != 2 || c.Notices[0].Outcome != "failed" || c.Notices[1].Outcome != "sent" {
		t.Errorf("notices = %+v, want failed then sent", c.Notices)
	}
	if c.Routing == nil || len(c.Routing.Failing) != 1 || c.Routing.Failing[0] != "abuse@gone.nl" {
		t.Errorf("routing = %+v, want abuse@gone.nl failing", c.Routing)
	}
	tl, _ := h.store.Timeline(t.Context(), id)
	var failed bool
	for _, ev := range tl {
		if ev.Type == takedown.EventNoticeFailed && strings.Contains(ev.Reason, "550") {
			failed = true
		}
	}
	if !failed {
		t.Errorf("timeline lacks the 550 failure: %+v", tl)
	}
}

func TestNoContactGoesToReview(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil, nil)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal)
	c := h.waitState(id, takedown.StateReview)
	if c.Routing == nil || !strings.Contains(c.Routing.Reason, "no working abuse contact") {
		t.Errorf("routing = %+v", c.Routing)
	}
}

// lostAck delivers every message but reports the first delivery as lost
// (the connection dropped after the relay accepted DATA) — from the relay's
// side exactly what a crash between sending and recording looks like.
type lostAck struct {
	Mailer
	calls atomic.Int32
}

func (l *lostAck) Send(ctx context.Context, from string, rcpts []string, msg []byte) smtp.Result {
	res := l.Mailer.Send(ctx, from, rcpts, msg)
	if l.calls.Add(1) == 1 {
		return smtp.Result{Recipients: []smtp.RecipientResult{{Rcpt: rcpts[0], Outcome: smtp.Temporary, Reply: "connection lost after DATA"}}}
	}
	return res
}

func TestResendAfterLostRecordIsTheSameMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, func(m Mailer) Mailer { return &lostAck{Mailer: m} })
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	msgs := h.waitMessages(2)
	c := h.waitState(id, takedown.StateNoticed)
	if !bytes.Equal(msgs[0].Data, msgs[1].Data) {
		t.Error("the resend differs from the first send")
	}
	if a, b := header(t, msgs[0].Data, "Message-Id"), header(t, msgs[1].Data, "Message-Id"); a == "" || a != b {
		t.Errorf("Message-IDs %q and %q, want one fixed id", a, b)
	}
	if len(c.Notices) != 1 {
		t.Errorf("case lists %d notices, want 1", len(c.Notices))
	}
	tl, _ := h.store.Timeline(t.Context(), id)
	var noticed int
	for _, ev := range tl {
		if ev.Type == takedown.EventNoticed {
			noticed++
		}
	}
	if noticed != 1 {
		t.Errorf("%d noticed events, want 1", noticed)
	}
	// The re-checks are started once the case is recorded as noticed.
	waitUntil(t, "start of the re-checks", func() bool {
		v, ok := h.noticed.Load(id)
		return ok && v.(*atomic.Int32).Load() >= 1
	})
}

func TestTemporaryFailureRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	h.relay.SetFault("abuse@busy.nl", smtpsim.TempRcpt)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@busy.nl")
	var c takedown.Case
	waitUntil(t, "450 on the notice's record", func() bool {
		c, _, _ = h.store.GetCase(t.Context(), id)
		if len(c.Notices) == 0 {
			return false
		}
		rec, err := h.stage.Notice(t.Context(), c.Notices[0].Ref)
		return err == nil && rec.Attempts > 0 && strings.Contains(rec.LastError, "450")
	})
	if c.State != takedown.StateRouted || len(h.relay.Messages()) != 0 {
		t.Fatalf("state %s with %d messages while the relay says 450", c.State, len(h.relay.Messages()))
	}
	h.relay.SetFault("abuse@busy.nl", smtpsim.OK)
	h.waitMessages(1)
	h.waitState(id, takedown.StateNoticed)
}

type webhookAdapter struct{ fw *webhook.Forwarder }

func (w webhookAdapter) Forward(ctx context.Context, ref string, body []byte) (bool, error) {
	res := w.fw.Forward(ctx, ref, body)
	return res.Retry, res.Err
}

func TestForwardToPartnerWebhook(t *testing.T) {
	t.Parallel()
	secret := []byte("partner-secret")
	partner := webhooksim.New(secret, time.Now, time.Minute)
	t.Cleanup(partner.Close)
	partner.FailNext(1, 503, "")
	fw, err := webhook.New(webhook.Config{URL: partner.URL(), Secret: secret, BaseBackoff: 10 * time.Millisecond}, partner.Client(), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil, func(o *Options) {
		o.Policy.Partners = map[string]route.Partner{"DE": {Country: "DE", Name: "eco", Channel: "webhook", Address: partner.URL()}}
		o.Webhooks = map[string]Forwarder{"DE": webhookAdapter{fw}}
	})
	id := h.enrichedCaseIn("DE", "http://host.example.de/a.jpg", takedown.PriorityNormal, "abuse@hoster.de")
	c := h.waitState(id, takedown.StateForwarded)
	deliveries := partner.Deliveries()
	if len(deliveries) != 1 || deliveries[0].Key != c.Notices[0].Ref {
		t.Fatalf("deliveries = %+v, want one with the notice reference as idempotency key", deliveries)
	}
	if !bytes.Contains(deliveries[0].Body, []byte(`"csam"`)) || !bytes.Contains(deliveries[0].Body, []byte("host.example.de/a.jpg")) {
		t.Errorf("forward body lacks the X-ARF report or the URL: %s", deliveries[0].Body)
	}
	if total, bad := partner.Requests(); bad != 0 || total < 2 {
		t.Errorf("partner saw %d requests, %d with a bad signature; want a retry after the 503 and none bad", total, bad)
	}
}

// closingMailer closes the case while its notice is on the way, as an
// analyst might: the outcome must still be recorded on the case.
type closingMailer struct {
	Mailer
	h  *harness
	id atomic.Value
}

func (m *closingMailer) Send(ctx context.Context, from string, rcpts []string, msg []byte) smtp.Result {
	if id, ok := m.id.Load().(string); ok {
		_, _ = m.h.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
			return nil, c.MoveTo(takedown.StateClosed, "closed by an analyst", time.Now())
		})
	}
	return m.Mailer.Send(ctx, from, rcpts, msg)
}

func TestOutcomeRecordedOnCaseThatMovedOn(t *testing.T) {
	t.Parallel()
	var cm *closingMailer
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 300 * time.Millisecond }, func(m Mailer) Mailer {
		cm = &closingMailer{Mailer: m}
		return cm
	})
	cm.h = h
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	cm.id.Store(id)
	h.waitMessages(1)
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		c, _, _ := h.store.GetCase(t.Context(), id)
		if len(c.Notices) == 1 && c.Notices[0].Outcome == "sent" {
			if c.State != takedown.StateClosed {
				t.Errorf("state %s, want closed (not moved back to noticed)", c.State)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, _, _ := h.store.GetCase(t.Context(), id)
	t.Fatalf("notices %+v, want the one notice recorded as sent", c.Notices)
}

// TestNoCaseLeftBehindWhileSealing routes many cases to one contact with a
// zero window, so URLs keep arriving while notices are sealed: every case
// must end up in exactly one sent notice, none stuck in "routed".
func TestNoCaseLeftBehindWhileSealing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	var ids []string
	for i := range 150 {
		ids = append(ids, h.enrichedCase(fmt.Sprintf("http://host.example.nl/%d.jpg", i), takedown.PriorityNormal, "abuse@hoster.nl"))
	}
	for _, id := range ids {
		c := h.waitState(id, takedown.StateNoticed)
		if len(c.Notices) != 1 || c.Notices[0].Outcome != "sent" {
			t.Errorf("case %s notices %+v, want exactly one sent", id, c.Notices)
		}
	}
}

// TestFollowUpRequestedTwiceIsSentOnce delivers the same reminder request
// twice (as after a crash outside the work stream's duplicate window),
// with a re-check recorded in between: one reminder goes out.
func TestFollowUpRequestedTwiceIsSentOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	h.waitState(id, takedown.StateNoticed)
	req := []byte(`{"kind":"reminder","level":"hoster","reminder":1}`)
	if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "remind-a", req); err != nil {
		t.Fatal(err)
	}
	h.waitMessages(2)
	if _, err := h.store.Update(t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.Checks = &takedown.CheckState{Checks: 5}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "remind-b", req); err != nil {
		t.Fatal(err)
	}
	// The work stream keeps a request until it is acked, which comes
	// after the stage sent (or decided not to send) the reminder.
	waitUntil(t, "second reminder request handled", func() bool {
		pending, err := h.store.WorkPending(t.Context(), store.StageNotify, id)
		return err == nil && !pending
	})
	msgs := h.relay.Messages()
	if len(msgs) != 2 {
		t.Fatalf("relay got %d messages, want the first notice and one reminder", len(msgs))
	}
	if header(t, msgs[1].Data, "X-Takedown-Kind") != "reminder" {
		t.Errorf("second message is %q, want a reminder", header(t, msgs[1].Data, "X-Takedown-Kind"))
	}
}

// TestEscalationReachesEachLevel asks for an escalation to every level of
// the chain and checks who receives it; a level nobody is known for is
// recorded on the timeline instead of vanishing.
func TestEscalationReachesEachLevel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) {
		c.BatchWindow = 0
		c.Authority.Email = "meldingen@authority.example"
	}, nil)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	if _, err := h.store.Update(t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.Enrichment.Contacts = append(c.Enrichment.Contacts, takedown.Contact{Email: "abuse@upstream.example", Role: "upstream"})
		c.Enrichment.Registrar = &takedown.Registrar{Name: "Registrar", Abuse: &takedown.Contact{Email: "abuse@registrar.example", Role: "registrar"}}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, takedown.StateNoticed)
	for i, level := range []string{"upstream", "registrar", "authority"} {
		req := fmt.Appendf(nil, `{"kind":"escalation","level":%q,"reminder":%d}`, level, 3*(i+1))
		if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "esc-"+level, req); err != nil {
			t.Fatal(err)
		}
	}
	msgs := h.waitMessages(4)
	want := map[string]bool{"abuse@upstream.example": false, "abuse@registrar.example": false, "meldingen@authority.example": false}
	for _, m := range msgs[1:] {
		if _, ok := want[m.To[0]]; !ok || header(t, m.Data, "X-Takedown-Kind") != "escalation" {
			t.Errorf("escalation went to %v as %q", m.To, header(t, m.Data, "X-Takedown-Kind"))
		}
		want[m.To[0]] = true
	}
	for to, got := range want {
		if !got {
			t.Errorf("no escalation to %s", to)
		}
	}
}

func TestEscalationWithoutContactIsRecorded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 0 }, nil)
	id := h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityNormal, "abuse@hoster.nl")
	h.waitState(id, takedown.StateNoticed)
	if err := h.store.Enqueue(t.Context(), store.StageNotify, id, "esc", []byte(`{"kind":"escalation","level":"authority","reminder":3}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		tl, _ := h.store.Timeline(t.Context(), id)
		for _, ev := range tl {
			if ev.Type == takedown.EventNoticeFailed && strings.Contains(ev.Reason, "no authority contact known") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("the missing authority contact is not on the timeline")
}

// TestBurstToOneContactFillsNoticesToTheLimit routes a burst of cases for
// one contact with many workers at once, as when a network's RDAP answer
// completes all of its cases together: the cases that come together are
// written together (joins), every case lands in exactly one notice, and
// no notice holds more than notify.max_urls_per_notice.
func TestBurstToOneContactFillsNoticesToTheLimit(t *testing.T) {
	t.Parallel()
	const n, limit = 60, 7
	h := newHarness(t, func(c *config.Notify) { c.BatchWindow = 3 * time.Second; c.MaxURLs = limit }, nil,
		func(o *Options) { o.RouteWorkers = 32 })
	var ids []string
	for i := range n {
		ids = append(ids, h.enrichedCase(fmt.Sprintf("http://host.example.nl/%d.jpg", i), takedown.PriorityNormal, "abuse@hoster.nl"))
	}
	inNotice := map[string]int{}
	refs := h.sentNotices(ids)
	for ref := range refs {
		rec, err := h.stage.Notice(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Items) > limit || len(rec.Cases) > limit {
			t.Errorf("notice %s holds %d URLs (%d cases), the limit is %d", ref, len(rec.Items), len(rec.Cases), limit)
		}
		for _, id := range rec.Cases {
			inNotice[id]++
		}
	}
	for _, id := range ids {
		if inNotice[id] != 1 {
			t.Errorf("case %s is in %d notices, want 1", id, inNotice[id])
		}
	}
	if min := (n + limit - 1) / limit; len(refs) < min {
		t.Errorf("%d notices for %d URLs at %d a notice", len(refs), n, limit)
	}
}
