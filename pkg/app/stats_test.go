package app

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// The daemon keeps statistics of the cases it holds and, on a clock that
// moved 91 days on, anonymises a closed case as a supervised part.
func TestStatsAndRetentionInTheDaemon(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := testConfig(t.TempDir())
	cfg.Retention.Every = 20 * time.Millisecond
	d := startDaemonAt(t, cfg, now)

	confirmed := time.Now().Add(-40 * 24 * time.Hour).UTC()
	id := store.CaseID(confirmed, 1)
	c := takedown.Case{
		ID: id, URL: "http://www.site.example/a.jpg", OriginalURL: "http://www.site.example/a.jpg", Host: "www.site.example",
		State: takedown.StateClosed, ReceivedAt: confirmed,
		Enrichment: &takedown.Enrichment{Country: takedown.CountryDecision{Country: "NL"},
			Addresses: []takedown.AddressInfo{{IP: "192.0.2.4", ASN: 64500, Network: "NET-1"}},
			Contacts:  []takedown.Contact{{Email: "abuse@hoster.example", Role: "hoster"}}},
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, Country: "NL", Contacts: []takedown.Contact{{Email: "abuse@hoster.example"}}},
		Notices: []takedown.NoticeRef{{Ref: "TD-1", Kind: "first", Channel: "email", To: "abuse@hoster.example", At: confirmed.Add(time.Hour), Outcome: "sent"}},
		Checks:  &takedown.CheckState{FirstRemovedAt: confirmed.Add(3 * time.Hour), RemovedAt: confirmed.Add(3 * time.Hour)},
	}
	c.AddReport(takedown.ReportRef{ReportID: "r-1", ReceivedAt: confirmed, ConfirmedAt: confirmed, Classification: "A1"})
	received := takedown.Event{ID: "received-" + id, CaseID: id, Type: takedown.EventReceived, Actor: "intake", Reason: "confirmed report r-1 of http://www.site.example/a.jpg"}
	if _, err := d.app.Store().CreateCase(t.Context(), c, received); err != nil {
		t.Fatal(err)
	}
	var st stats.Stats
	waitUntil(t, "the statistics to count the case", func() bool {
		return d.get("/v1/stats", "test-token-reader", &st) == http.StatusOK && st.Cases == 1
	})
	if st.ToRemoval.P50 == nil || *st.ToRemoval.P50 != 3*3600 || st.Hosting.Domestic != 1 {
		t.Errorf("stats: %+v", st)
	}
	var hs stats.HosterList
	if code := d.get("/v1/hosters", "test-token-reader", &hs); code != http.StatusOK || len(hs.Hosters) != 1 || hs.Hosters[0].ID != "hoster.example" {
		t.Errorf("hosters: %d %+v", code, hs)
	}
	if code := d.get("/v1/stats", "", nil); code != http.StatusUnauthorized {
		t.Errorf("stats without a token: %d", code)
	}

	offset.Store(int64(91 * 24 * time.Hour))
	var v api.CaseView
	waitUntil(t, "retention to anonymise the case", func() bool {
		return d.get("/v1/cases/"+id, testToken, &v) == http.StatusOK && v.Case.Anonymised != nil && v.Case.Anonymised.TimelineRedacted
	})
	if v.Case.URL != "" || len(v.Timeline) != 2 || v.Timeline[1].Type != takedown.EventAnonymised || strings.Contains(v.Timeline[0].Reason, "site.example") {
		t.Errorf("after retention: url %q, timeline %+v", v.Case.URL, v.Timeline)
	}
	waitUntil(t, "the statistics to see it", func() bool {
		return d.get("/v1/stats", "test-token-reader", &st) == http.StatusOK && st.Anonymised == 1
	})
	if st.Cases != 1 || st.ToRemoval.P50 == nil || *st.ToRemoval.P50 != 3*3600 {
		t.Errorf("stats after retention: %+v", st)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitBound); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
