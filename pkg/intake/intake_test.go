package intake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// fixture is an intake on an embedded server that is not consuming yet,
// so a test can leave the store as a crash would have before it starts.
type fixture struct {
	js jetstream.JetStream
	st *store.Store
	in *Intake
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{
		Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond},
		Log:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Intake
	// One worker: the reports are processed in the order they were published.
	cfg.Workers = 1
	in, err := New(t.Context(), cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{js: ns.JS, st: st, in: in}
}

// publish puts a report on the stream and returns its message's case id.
func (f *fixture) publish(t *testing.T, reportID, u string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"report_id": reportID, "url": u, "confirmed_at": "2026-11-26T10:00:00Z", "classification": "A1"})
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(f.in.cfg.Subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, reportID)
	ack, err := f.js.PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return f.caseIDOf(t, ack.Sequence)
}

// caseIDOf is the case id of the report message at seq.
func (f *fixture) caseIDOf(t *testing.T, seq uint64) string {
	t.Helper()
	raw, err := f.js.Stream(t.Context(), f.in.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := raw.GetMsg(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return store.CaseID(m.Time, seq)
}

// run consumes until every published report is acked.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.in.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	stream, err := f.js.Stream(t.Context(), f.in.cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := f.js.Consumer(t.Context(), f.in.cfg.Stream, ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ci, err := cons.Info(t.Context())
		si, serr := stream.Info(t.Context())
		if err == nil && serr == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream >= si.State.LastSeq {
			return
		}
	}
	t.Fatal("reports not acked within 30s")
}

// caseOf returns the case and its trail, failing when there is none.
func (f *fixture) caseOf(t *testing.T, id string) (takedown.Case, []takedown.Event) {
	t.Helper()
	c, _, err := f.st.GetCase(t.Context(), id)
	if err != nil {
		t.Fatalf("case %s: %v", id, err)
	}
	trail, err := f.st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c, trail
}

func reportIDs(c takedown.Case) []string {
	var ids []string
	for _, r := range c.Reports {
		ids = append(ids, r.ReportID)
	}
	return ids
}

func eventsOf(trail []takedown.Event, typ takedown.EventType) []takedown.Event {
	var out []takedown.Event
	for _, ev := range trail {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// A URL claimed by a message whose worker stopped before it wrote the case
// gets that message's case, opened from that message's report by
// whichever report of the URL comes first, with the same first report and
// the same opening event as the claimer's own worker would write.
func TestCaseOfAClaimWithoutItIsTheClaimersCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const u = "http://host.example.nl/a.jpg"
	nu, err := urlnorm.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	// "later" is published after "first" but processed before it: first's
	// worker claimed the URL and stopped there.
	later := f.publish(t, "later", u)
	first := f.publish(t, "first", u)
	if _, _, err := f.st.ClaimURL(t.Context(), nu.Key(), first); err != nil {
		t.Fatal(err)
	}
	f.run(t)

	c, trail := f.caseOf(t, first)
	if got := reportIDs(c); len(got) != 2 || got[0] != "first" || got[1] != "later" {
		t.Errorf("reports of the claimer's case = %v, want [first later]", got)
	}
	received := eventsOf(trail, takedown.EventReceived)
	if len(received) != 1 || received[0].Reason != "confirmed report first" {
		t.Errorf("received events %+v, want one, of report first", received)
	}
	if joined := eventsOf(trail, takedown.EventReportJoined); len(joined) != 1 {
		t.Errorf("%d report_joined events, want 1 (later)", len(joined))
	}
	if _, _, err := f.st.GetCase(t.Context(), later); err == nil {
		t.Errorf("a case under the later report's id %s: want none", later)
	}
	for _, rep := range []string{"first", "later"} {
		if got, err := f.st.CaseOfReport(t.Context(), rep); err != nil || got != first {
			t.Errorf("report %s on record for %q (%v), want %s", rep, got, err, first)
		}
	}
}

// When the claimer's report is no longer in the stream, the next report of
// the URL opens the claimed case with its own.
func TestClaimWhoseReportIsGoneIsOpenedByTheNext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const u = "http://host.example.nl/b.jpg"
	nu, err := urlnorm.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	gone := store.CaseID(time.Now().Add(-time.Hour), 999)
	if _, _, err := f.st.ClaimURL(t.Context(), nu.Key(), gone); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "next", u)
	f.run(t)

	c, trail := f.caseOf(t, gone)
	if got := reportIDs(c); len(got) != 1 || got[0] != "next" {
		t.Errorf("reports = %v, want [next]", got)
	}
	if received := eventsOf(trail, takedown.EventReceived); len(received) != 1 || received[0].Reason != "confirmed report next" {
		t.Errorf("received events %+v, want one, of report next", received)
	}
}

// A report id on record for a case that was never written (its message
// gave up, into the dead letters) is not taken for a duplicate: the report
// opens its case, and the record points there.
func TestReportOnRecordWithoutItsCaseIsProcessed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	never := store.CaseID(time.Now().Add(-time.Hour), 998)
	if _, err := f.st.ClaimReport(t.Context(), "again", never); err != nil {
		t.Fatal(err)
	}
	id := f.publish(t, "again", "http://host.example.nl/c.jpg")
	f.run(t)

	c, _ := f.caseOf(t, id)
	if got := reportIDs(c); len(got) != 1 || got[0] != "again" {
		t.Errorf("reports = %v, want [again]", got)
	}
	if got, err := f.st.CaseOfReport(t.Context(), "again"); err != nil || got != id {
		t.Errorf("report on record for %q (%v), want %s", got, err, id)
	}
}

// A report that came before, in a message the stream's window no longer
// remembers, is one report: the record answers, nothing is written.
func TestReportOnRecordIsADuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.publish(t, "once", "http://host.example.nl/d.jpg")
	f.run(t)
	// Without the header the stream does not deduplicate it.
	body, err := json.Marshal(map[string]any{"report_id": "once", "url": "http://host.example.nl/other.jpg", "confirmed_at": "2026-11-26T10:00:00Z", "classification": "A1"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := f.js.Publish(t.Context(), f.in.cfg.Subject, body)
	if err != nil {
		t.Fatal(err)
	}
	f.run(t)

	if c, _ := f.caseOf(t, id); len(c.Reports) != 1 {
		t.Errorf("reports = %v, want [once]", reportIDs(c))
	}
	if _, _, err := f.st.GetCase(t.Context(), f.caseIDOf(t, ack.Sequence)); err == nil {
		t.Error("the repeat opened a case of its own")
	}
	// Its URL was claimed while the report id was: the claim is taken back.
	other, err := urlnorm.Parse("http://host.example.nl/other.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if holder, err := f.st.CaseOfURL(t.Context(), other.Key()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the repeat's URL is claimed for %q (%v), want no claim", holder, err)
	}
}

// A URL claimed by the message of a duplicate report, whose worker stopped
// before it took the claim back, is taken over by the next report of the
// URL: the duplicate's report stays in its one case.
func TestClaimOfADuplicateIsTakenOver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first := f.publish(t, "dupe", "http://host.example.nl/e.jpg")
	f.run(t)
	const v = "http://host.example.nl/f.jpg"
	nu, err := urlnorm.Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	next := f.publish(t, "next", v)
	// The repeat of "dupe", of another URL, without the header the
	// stream's window would drop it by.
	body, err := json.Marshal(map[string]any{"report_id": "dupe", "url": v, "confirmed_at": "2026-11-26T10:00:00Z", "classification": "A1"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := f.js.Publish(t.Context(), f.in.cfg.Subject, body)
	if err != nil {
		t.Fatal(err)
	}
	repeat := f.caseIDOf(t, ack.Sequence)
	if _, _, err := f.st.ClaimURL(t.Context(), nu.Key(), repeat); err != nil {
		t.Fatal(err)
	}
	f.run(t)

	if c, _ := f.caseOf(t, next); len(c.Reports) != 1 || c.Reports[0].ReportID != "next" {
		t.Errorf("reports of the next report's case = %v, want [next]", reportIDs(c))
	}
	if c, _ := f.caseOf(t, first); len(c.Reports) != 1 {
		t.Errorf("reports of dupe's case = %v, want [dupe]", reportIDs(c))
	}
	if _, _, err := f.st.GetCase(t.Context(), repeat); err == nil {
		t.Error("a case under the repeat's id")
	}
	if holder, err := f.st.CaseOfURL(t.Context(), nu.Key()); err != nil || holder != next {
		t.Errorf("url claimed for %q (%v), want %s", holder, err, next)
	}
}
