package app

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestUnresolvableKeepsBeingRetried: a host that does not resolve is tried
// again after the quick retries, on the slow schedule, for as long as its
// case is open — and when the name comes back, the case moves on.
func TestUnresolvableKeepsBeingRetried(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	sn := simnetEnrich(t, &cfg, nil)
	cfg.Enrich.DNS.CacheSize = -1 // the test changes answers; no cache hides them
	cfg.Enrich.UnresolvableRetry = []time.Duration{50 * time.Millisecond}
	// Below what validation allows a user: the slow retry at test speed.
	cfg.Enrich.UnresolvableEvery = 300 * time.Millisecond
	d := startDaemon(t, cfg)
	const u = "http://back-later.com/a.jpg"
	d.publish(report("unresolvable-1", u), "")
	d.settle()

	// At least two slow retries, each on the timeline, each planned.
	v := d.waitEnrichment(u)
	deadline := time.Now().Add(waitBound)
	for countEvents(v, takedown.EventUnresolvable, "unresolvable") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no slow retries of the unresolvable host: %+v", v.Timeline)
		}
		time.Sleep(50 * time.Millisecond)
		v = d.caseByURL(u)
	}
	if v.Case.State != takedown.StateUnresolvable || v.Case.Checks == nil || v.Case.Checks.NextCheckAt.IsZero() {
		t.Fatalf("state %s, checks %+v: want unresolvable with its next retry planned", v.Case.State, v.Case.Checks)
	}

	sn.DNS.AddAddr("back-later.com", 300, netip.MustParseAddr("62.239.237.1"))
	v = d.waitState(u, takedown.StateUnresolvable)
	wantEnriched(t, v)
}

// TestNewReportAsksForFreshAttempt: a new report of an unresolvable case's
// URL asks for a fresh attempt at once (not at the next slow retry), and
// the timeline says so.
func TestNewReportAsksForFreshAttempt(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	sn := simnetEnrich(t, &cfg, nil)
	cfg.Enrich.DNS.CacheSize = -1
	cfg.Enrich.UnresolvableRetry = []time.Duration{time.Hour}
	cfg.Enrich.UnresolvableEvery = time.Hour
	d := startDaemon(t, cfg)
	const u = "http://fresh-attempt.com/a.jpg"
	d.publish(report("fresh-1", u), "")
	d.settle()
	if v := d.waitEnrichment(u); v.Case.State != takedown.StateUnresolvable {
		t.Fatalf("state %s, want unresolvable", v.Case.State)
	}

	sn.DNS.AddAddr("fresh-attempt.com", 300, netip.MustParseAddr("62.239.237.1"))
	d.publish(report("fresh-2", u), "")
	d.settle()
	v := d.waitState(u, takedown.StateUnresolvable)
	wantEnriched(t, v)
	ev := hasEvent(v, takedown.EventFreshAttempt)
	if ev == nil || ev.Actor != "intake" || !strings.Contains(ev.Reason, "fresh-2") {
		t.Errorf("fresh_attempt event %+v, want one by intake naming the new report", ev)
	}
}

// countEvents counts the events of a type whose reason contains substr.
func countEvents(v api.CaseView, typ takedown.EventType, substr string) int {
	n := 0
	for _, ev := range v.Timeline {
		if ev.Type == typ && strings.Contains(ev.Reason, substr) {
			n++
		}
	}
	return n
}
