package retention

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// The secrets of a closed case: none may survive anonymisation anywhere.
var secrets = []string{"site-with-csam.example", "/album/7.jpg", "abuse@nl-hoster.nl", "abuse@old-hoster.nl", "203.0.113.7", "2001:db8::7", "analyst-3", "cdn.example.net"}

var t0 = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

// clock is a settable clock for the test.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// closedCase is a case as the pipeline leaves it once it stayed gone.
func closedCase(id, u string, closed time.Time) takedown.Case {
	confirmed := closed.Add(-40 * 24 * time.Hour)
	noticed := confirmed.Add(20 * time.Minute)
	c := takedown.Case{
		ID: id, URL: u, OriginalURL: strings.ToUpper(u[:4]) + u[4:], Host: "www.site-with-csam.example", Domain: "site-with-csam.example",
		State: takedown.StateClosed, StateReason: "stayed gone", ReceivedAt: confirmed, UpdatedAt: closed,
		Priority: takedown.PriorityNormal, Classification: "A1",
		Enrichment: &takedown.Enrichment{
			At: confirmed, Host: "www.site-with-csam.example", CNAMEs: []string{"www.site-with-csam.example.cdn.example.net"},
			Addresses: []takedown.AddressInfo{{IP: "203.0.113.7", Country: "NL", ASN: 64501, ASName: "NLHOSTER", Network: "NLH-1"}, {IP: "2001:db8::7", Country: "NL", ASN: 64501, Network: "NLH-6"}},
			Networks:  []takedown.Network{{Handle: "NLH-1", Name: "NLHOSTER-NET", CIDRs: []string{"203.0.113.0/24"}, Start: "203.0.113.0", End: "203.0.113.255", Country: "NL", Source: takedown.Source{Kind: "rdap_ip", Server: "rdap.db.ripe.net", Path: []string{"abuse"}}}},
			Contacts:  []takedown.Contact{{Email: "abuse@nl-hoster.nl", Role: "hoster"}, {Email: "abuse@old-hoster.nl", Role: "hoster"}},
			Registrar: &takedown.Registrar{Name: "Registrar BV", Abuse: &takedown.Contact{Email: "abuse@registrar.example", Role: "registrar"}},
			Country:   takedown.CountryDecision{Rule: "agree", Country: "NL", GeoIP: "NL", RDAP: "NL"},
		},
		Routing: &takedown.Routing{At: confirmed, Kind: takedown.RouteHoster, Country: "NL", Channel: "email", Reason: "hosted in NL",
			Contacts: []takedown.Contact{{Email: "abuse@old-hoster.nl"}, {Email: "abuse@nl-hoster.nl"}}, Failing: []string{"abuse@old-hoster.nl"}},
		Notices: []takedown.NoticeRef{
			{Ref: "TD-A-0", Kind: "first", Channel: "email", To: "abuse@old-hoster.nl", At: noticed.Add(-time.Hour), Outcome: "failed"},
			{Ref: "TD-A-1", Kind: "first", Channel: "email", To: "abuse@nl-hoster.nl", At: noticed, Outcome: "sent", MessageID: "<TD-A-1@hotline.example>"},
			{Ref: "TD-A-2", Kind: "reminder", Channel: "email", To: "abuse@nl-hoster.nl", At: noticed.Add(24 * time.Hour), Outcome: "sent"},
		},
		Checks: &takedown.CheckState{WatchedSince: noticed, Checks: 9, RemovedAt: noticed.Add(30 * time.Hour), FirstRemovedAt: noticed.Add(26 * time.Hour), Reopened: 1},
	}
	c.AddReport(takedown.ReportRef{ReportID: "r-" + id, ReceivedAt: confirmed, ConfirmedAt: confirmed, Classification: "A1", Analyst: "analyst-3", Source: "public"})
	return c
}

// trail is the timeline the stages write for such a case, with what each
// of them puts in its reason and data.
func trail(id string, c takedown.Case) []takedown.Event {
	at := c.ReceivedAt
	ev := func(typ takedown.EventType, reason string, data any) takedown.Event {
		at = at.Add(time.Minute)
		return takedown.Event{ID: string(typ) + "-" + id, CaseID: id, Type: typ, At: at, Actor: "stage", Reason: reason}.WithData(data)
	}
	return []takedown.Event{
		ev("received", "confirmed report r-1", map[string]any{"report_id": "r-1", "classification": "A1", "source": "analyst-3 via public form"}),
		ev("enriched", "country NL, hoster abuse@nl-hoster.nl", map[string]any{"hoster": "abuse@nl-hoster.nl", "network": "NLH-1", "cnames": []string{"www.site-with-csam.example.cdn.example.net"}}),
		ev("routed", "hosted in NL, the hotline's own country", map[string]any{"kind": "hoster", "country": "NL", "contacts": []string{"abuse@old-hoster.nl", "abuse@nl-hoster.nl"}}),
		ev("notice_failed", "notice TD-A-0 to abuse@old-hoster.nl bounced for good: userunknown 5.1.1 <abuse@old-hoster.nl>", map[string]any{"final_recipient": "abuse@old-hoster.nl", "reason": "userunknown", "hard": true}),
		ev("noticed", "first notice accepted for abuse@nl-hoster.nl", map[string]any{"notice": "TD-A-1", "to": "abuse@nl-hoster.nl", "kind": "first", "outcome": "sent", "message_id": "<TD-A-1@hotline.example>"}),
		ev("replied", "reply from abuse@nl-hoster.nl to notice TD-A-1", map[string]any{"from": "abuse@nl-hoster.nl", "text": "We removed http://www.site-with-csam.example/album/7.jpg", "auto": false}),
		ev("checked", "gone: status 404", map[string]any{"verdict": "gone", "status": 404, "final_host": "www.site-with-csam.example"}),
		ev("moved", "material answered from 203.0.113.7", map[string]any{"remote_ip": "2001:db8::7", "reason": "moved"}),
		ev("removed", "removal confirmed by re-checks", map[string]any{"removed_at": c.Checks.RemovedAt, "streak": 3}),
		ev("closed", "stayed gone", nil),
	}
}

type fixture struct {
	st      *store.Store
	agg     *stats.Aggregate
	notices *store.Bucket[takedown.Notice]
	r       *Retention
	clk     *clock
	h       *stats.URLHasher
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 10 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	notices, err := store.OpenBucket[takedown.Notice](t.Context(), st, jetstream.KeyValueConfig{Bucket: "takedown_notices", History: 1}, "notice")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.set(t0)
	h := stats.NewURLHasher([]byte("retention-test-secret-0123456789abcdef"))
	agg := stats.New(st, stats.Options{HotlineCountry: "NL", Hasher: h, Now: clk.now, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = agg.Run(ctx) }()
	r := New(st, agg, Options{AnonymiseAfter: 90 * 24 * time.Hour, Every: time.Hour, Batch: 10, Hasher: h, Notices: notices, Now: clk.now, Log: log})
	return &fixture{st: st, agg: agg, notices: notices, r: r, clk: clk, h: h}
}

func (f *fixture) create(t *testing.T, c takedown.Case) []takedown.Event {
	t.Helper()
	events := trail(c.ID, c)
	if _, err := f.st.CreateCase(t.Context(), c, events...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.ClaimURL(t.Context(), urlnorm.KeyOf(c.URL), c.ID); err != nil {
		t.Fatal(err)
	}
	return events
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func leaks(what string, v any) []string {
	b, _ := json.Marshal(v)
	var found []string
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(string(b)), strings.ToLower(s)) {
			found = append(found, s)
		}
	}
	return found
}

func TestAnonymiseAClosedCase(t *testing.T) {
	t.Parallel()
	f := setup(t)
	idA := store.CaseID(t0.Add(-50*24*time.Hour), 1)
	idB := store.CaseID(t0.Add(-49*24*time.Hour), 2)
	u := "http://www.site-with-csam.example/album/7.jpg"
	a := closedCase(idA, u, t0)
	b := closedCase(idB, "http://www.site-with-csam.example/album/8.jpg", t0.Add(30*24*time.Hour))
	f.create(t, a)
	f.create(t, b)
	// A later report of the same URL opened a case of its own, open still.
	idC := store.CaseID(t0.Add(time.Hour), 3)
	c := closedCase(idC, u, t0)
	c.State, c.Checks.RemovedAt, c.Checks.FirstRemovedAt, c.Checks.Reopened = takedown.StateNoticed, time.Time{}, time.Time{}, 0
	if _, err := f.st.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	notice := takedown.Notice{Ref: "TD-A-1", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@nl-hoster.nl", State: takedown.NoticeSent,
		LastError: "421 try later <abuse@nl-hoster.nl>", Cases: []string{idA, idB},
		Items: []takedown.NoticeItem{{CaseID: idA, URL: u, IPs: []string{"203.0.113.7"}}, {CaseID: idB, URL: b.URL, IPs: []string{"203.0.113.7"}}}}
	if _, err := f.notices.Create(t.Context(), notice.Ref, notice); err != nil {
		t.Fatal(err)
	}
	original, err := f.st.Timeline(t.Context(), idA)
	if err != nil || len(original) != 10 {
		t.Fatalf("trail of %d events, %v", len(original), err)
	}
	stream, err := f.st.JetStream().Stream(t.Context(), store.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	digests := map[uint64]string{}
	for _, ev := range original {
		msg, err := stream.GetMsg(t.Context(), ev.Seq)
		if err != nil {
			t.Fatal(err)
		}
		digests[ev.Seq] = f.h.Sum(string(msg.Data))
	}
	waitFor(t, "the statistics to load", func() bool { return f.agg.Size() == 3 })
	before, err := f.agg.Stats(stats.Filter{})
	if err != nil {
		t.Fatal(err)
	}

	// Not due until 90 days after the close.
	f.clk.set(t0.Add(89 * 24 * time.Hour))
	if n, err := f.r.Sweep(t.Context()); n != 0 || err != nil {
		t.Fatalf("sweep at 89 days: %d, %v", n, err)
	}
	f.clk.set(t0.Add(91 * 24 * time.Hour))
	if n, err := f.r.Sweep(t.Context()); n != 1 || err != nil {
		t.Fatalf("sweep at 91 days: %d, %v", n, err)
	}

	got, _, err := f.st.GetCase(t.Context(), idA)
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks("case", got); len(l) > 0 {
		t.Errorf("the anonymised case still holds %v", l)
	}
	an := got.Anonymised
	if an == nil || an.URLHash != f.h.Sum(u) || an.Hoster != "nl-hoster.nl" || !an.TimelineRedacted || an.Events != 10 ||
		len(an.FailingContacts) != 1 || an.FailingContacts[0] != f.h.Sum("abuse@old-hoster.nl") {
		t.Errorf("anonymised %+v", an)
	}
	if got.Checks == nil || !got.Checks.FirstRemovedAt.Equal(a.Checks.FirstRemovedAt) || got.Reports[0].ReportID != "r-"+idA ||
		got.Enrichment.Addresses[0].ASN != 64501 || len(got.Notices) != 3 {
		t.Errorf("timings or hosting not kept: %+v", got)
	}

	tl, err := f.st.Timeline(t.Context(), idA)
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks("timeline", tl); len(l) > 0 {
		t.Errorf("the timeline still holds %v", l)
	}
	if len(tl) != 11 || tl[len(tl)-1].Type != takedown.EventAnonymised {
		t.Fatalf("timeline of %d events", len(tl))
	}
	bySeq := map[uint64]takedown.Event{}
	for _, ev := range tl {
		if ev.Redacted != nil {
			bySeq[ev.Redacted.Seq] = ev
		}
	}
	for _, orig := range original {
		cp, ok := bySeq[orig.Seq]
		if !ok || cp.ID != orig.ID || cp.Type != orig.Type || !cp.At.Equal(orig.At) || cp.From != orig.From || cp.To != orig.To {
			t.Errorf("original %d (%s) has no faithful copy: %+v", orig.Seq, orig.Type, cp)
			continue
		}
		if cp.Redacted.Digest != digests[orig.Seq] {
			t.Errorf("copy of %d: digest %s, want the keyed hash of the original's bytes", orig.Seq, cp.Redacted.Digest)
		}
		if _, err := stream.GetMsg(t.Context(), orig.Seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("original %d still in the stream: %v", orig.Seq, err)
		}
	}
	if cp := bySeq[original[4].Seq]; !strings.Contains(string(cp.Data), `"notice":"TD-A-1"`) || !strings.Contains(string(cp.Data), `"kind":"first"`) {
		t.Errorf("the noticed copy lost what it may keep: %s", cp.Data)
	}

	n, _, err := f.notices.Get(t.Context(), "TD-A-1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Items[0].URL != "" || n.Items[0].IPs != nil || n.Items[1].URL != b.URL || n.To == "" {
		t.Errorf("notice after A: %+v (B is not anonymised yet: its item and the recipient stay)", n)
	}
	if _, err := f.st.CaseOfURL(t.Context(), urlnorm.KeyOf(u)); !errors.Is(err, store.ErrNotFound) && err != nil {
		t.Errorf("url index: %v", err)
	}
	if other, _, _ := f.st.GetCase(t.Context(), idB); other.URL != b.URL || other.Anonymised != nil {
		t.Errorf("case B (closed 61 days) was touched: %+v", other.Anonymised)
	}

	// The figures are the same, but for the count of anonymised cases;
	// the open case of the same URL still joins the anonymised one.
	waitFor(t, "the statistics to see the anonymised case", func() bool {
		s, _ := f.agg.Stats(stats.Filter{})
		return s.Anonymised == 1
	})
	after, err := f.agg.Stats(stats.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	after.Anonymised, after.GeneratedAt = 0, before.GeneratedAt
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	if string(bj) != string(aj) {
		t.Errorf("statistics changed by anonymising:\nbefore %s\nafter  %s", bj, aj)
	}
	if after.RepeatedURLs != 1 || after.DistinctURLs != 2 {
		t.Errorf("repeated %d distinct %d, want the open case joined with the anonymised one", after.RepeatedURLs, after.DistinctURLs)
	}
	hs, err := f.agg.Hoster("nl-hoster.nl", stats.Filter{})
	if err != nil || hs.BouncedContacts != 1 {
		t.Errorf("hoster after: %+v, %v; want one bounced contact (A's and B's are the same address)", hs, err)
	}

	// Again: nothing more to do, nothing written twice.
	if n, err := f.r.Sweep(t.Context()); n != 0 || err != nil {
		t.Errorf("second sweep: %d, %v", n, err)
	}
	if again, _ := f.st.Timeline(t.Context(), idA); len(again) != 11 {
		t.Errorf("%d events after a second sweep", len(again))
	}

	// Once B is due too, the notice loses its recipient.
	f.clk.advance(40 * 24 * time.Hour)
	waitFor(t, "B anonymised", func() bool {
		_, _ = f.r.Sweep(t.Context())
		c, _, _ := f.st.GetCase(t.Context(), idB)
		return c.Anonymised != nil && c.Anonymised.TimelineRedacted
	})
	n, _, _ = f.notices.Get(t.Context(), "TD-A-1")
	if l := leaks("notice", n); len(l) > 0 || n.To != "" || n.LastError != "" {
		t.Errorf("notice of anonymised cases still holds %v: %+v", l, n)
	}
}

func TestAnonymisationFinishesAfterAStop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := store.CaseID(t0.Add(-50*24*time.Hour), 1)
	u := "http://www.site-with-csam.example/album/7.jpg"
	f.create(t, closedCase(id, u, t0))
	waitFor(t, "the statistics to load", func() bool { return f.agg.Size() == 1 })
	now := t0.Add(100 * 24 * time.Hour)
	f.clk.set(now)
	// A stop right after the case changed: the trail is not redacted.
	if err := f.st.ReleaseURL(t.Context(), urlnorm.KeyOf(u), id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Update(t.Context(), id, f.r.anonymiseCase(now)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the half-done case to be due", func() bool {
		due := f.agg.Due(now.Add(-90*24*time.Hour), 10)
		return len(due) == 1
	})
	if n, err := f.r.Sweep(t.Context()); n != 1 || err != nil {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	tl, err := f.st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks("timeline", tl); len(l) > 0 {
		t.Errorf("timeline holds %v", l)
	}
	c, _, _ := f.st.GetCase(t.Context(), id)
	if c.Anonymised == nil || !c.Anonymised.TimelineRedacted || c.Anonymised.Events != 10 {
		t.Errorf("anonymised %+v", c.Anonymised)
	}
}
