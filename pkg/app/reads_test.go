package app

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestReadsLeaveNothingOnTheServer reads one case 2,000 times through the
// API, with lists, lookups, notices, dead letters, the review queue,
// metrics, readiness and takedownctl in between, and checks that the
// server holds no more consumers afterwards than before. A read that left
// one behind (the ordered consumer that timelines were read with, kept
// five minutes) filled the server's limit after about a thousand reads,
// and every case read answered 500.
func TestReadsLeaveNothingOnTheServer(t *testing.T) {
	t.Parallel()
	f := startFlow(t, nil)
	d := f.d
	d.publish(report("reads-1", flowURL), "reads-1")
	d.publish([]byte("not a report"), "reads-bad")
	d.settle()
	v := d.waitFor(flowURL, takedown.StateNoticed)
	id := v.Case.ID
	if len(v.Case.Notices) == 0 {
		t.Fatal("the case has no notice")
	}
	ref := v.Case.Notices[0].Ref
	var dlq struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if code := d.get("/v1/dlq", testToken, &dlq); code != http.StatusOK || len(dlq.DeadLetters) != 1 {
		t.Fatalf("GET /v1/dlq: %d, %d dead letters", code, len(dlq.DeadLetters))
	}
	reads := []string{
		"/v1/cases", "/v1/cases?state=noticed", "/v1/cases?state=closed", "/v1/cases?url=" + url.QueryEscape(flowURL),
		"/v1/review", "/v1/notices/" + ref, "/v1/dlq", fmt.Sprintf("/v1/dlq/%d", dlq.DeadLetters[0].Seq),
		"/metrics", "/readyz",
	}
	before := d.consumers()
	for i := range 2000 {
		var cv api.CaseView
		if code := d.get("/v1/cases/"+id, testToken, &cv); code != http.StatusOK || len(cv.Timeline) == 0 {
			t.Fatalf("read %d: status %d, %d events", i, code, len(cv.Timeline))
		}
		if i%50 == 0 {
			for _, p := range reads {
				if code := d.get(p, testToken, nil); code != http.StatusOK {
					t.Fatalf("GET %s: %d", p, code)
				}
			}
			d.ctl(nil, "", "show", id).want(t, 0, "takedownctl show")
			d.ctl(nil, "", "list", "-all").want(t, 0, "takedownctl list")
			d.ctl(nil, "", "dlq", "list").want(t, 0, "takedownctl dlq list")
		}
	}
	// A consumer that a stage makes and stops in passing may still exist
	// for a moment; a leaked one stays for minutes.
	deadline := time.Now().Add(30 * time.Second)
	after := d.consumers()
	for !maps.Equal(after, before) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		after = d.consumers()
	}
	if !maps.Equal(after, before) {
		t.Errorf("consumers before the reads %v, after %v", before, after)
	}
}

// consumers counts the server's consumers per stream, and in the account.
func (d *daemon) consumers() map[string]int {
	d.t.Helper()
	out := map[string]int{}
	names := d.js.StreamNames(d.t.Context())
	for name := range names.Name() {
		s, err := d.js.Stream(d.t.Context(), name)
		if err != nil {
			d.t.Fatal(err)
		}
		info, err := s.Info(d.t.Context())
		if err != nil {
			d.t.Fatal(err)
		}
		out[name] = info.State.Consumers
	}
	if err := names.Err(); err != nil {
		d.t.Fatal(err)
	}
	ai, err := d.js.AccountInfo(d.t.Context())
	if err != nil {
		d.t.Fatal(err)
	}
	out["(account)"] = ai.Consumers
	return out
}

// TestEveryReadLeavesNothingOnTheServer walks every GET route in the API's
// registry (so also the routes added after this test was written), for
// every seeded case, notice and hoster, as an admin and as a hoster's
// token, many times over, and checks that the server holds no more
// consumers than before.
func TestEveryReadLeavesNothingOnTheServer(t *testing.T) {
	t.Parallel()
	w := startScopeWorld(t)
	before := w.d.consumers()
	reads := 0
	for range 20 {
		for _, rt := range w.d.app.api.Routes() {
			if rt.Method != http.MethodGet {
				continue
			}
			for _, path := range w.paths(rt) {
				for _, tok := range []string{"admin", "hoster-a"} {
					w.call(t, rt.Method, path, tok, nil)
					reads++
				}
			}
		}
	}
	t.Logf("%d reads", reads)
	deadline := time.Now().Add(30 * time.Second)
	after := w.d.consumers()
	for !maps.Equal(after, before) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		after = w.d.consumers()
	}
	if !maps.Equal(after, before) {
		t.Errorf("consumers before %d reads %v, after %v", reads, before, after)
	}
}
