package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestReconcilerRepairsCasesWithoutNextStep deletes the next step of two
// cases behind the daemon's back — a noticed case's schedule and every
// unit of work it has, purged with the JetStream API; an enriched case's
// route work, never enqueued — and watches the reconciler find both,
// repair them with a repaired event on their timelines, and the cases move
// on: the first has its check pending again, the second is noticed.
func TestReconcilerRepairsCasesWithoutNextStep(t *testing.T) {
	t.Parallel()
	f := startFlow(t, func(cfg *config.Config) {
		// Checks far apart: the purged schedule must not fire first.
		cfg.Recheck.Cadence = []time.Duration{time.Hour}
		cfg.Reconcile.Interval = 200 * time.Millisecond
		cfg.Reconcile.ConfirmAfter = 200 * time.Millisecond
	})
	d := f.d
	d.publish(report("reconcile-1", flowURL), "reconcile-1")
	d.settle()
	v := d.waitFor(flowURL, takedown.StateNoticed)
	noticed := v.Case.ID
	d.waitSchedule(noticed)
	planned := d.waitCase(noticed, func(c takedown.Case) bool { return c.Checks != nil && !c.Checks.NextCheckAt.IsZero() }).Checks.NextCheckAt

	checks, err := d.js.Stream(t.Context(), recheck.ScheduleStream)
	if err != nil {
		t.Fatal(err)
	}
	work, err := d.js.Stream(t.Context(), store.WorkStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		s    jetstream.Stream
		subj string
	}{{checks, recheck.SchedulePrefix + noticed}, {checks, recheck.DuePrefix + noticed}, {work, store.WorkPrefix + "*." + noticed}} {
		if err := p.s.Purge(t.Context(), jetstream.WithPurgeSubject(p.subj)); err != nil {
			t.Fatal(err)
		}
	}
	lost := createLostCase(t, d, "0000000000000A01")

	for _, tt := range []struct {
		id      string
		missing takedown.Missing
	}{{noticed, takedown.MissingCheck}, {lost, takedown.MissingRoute}} {
		c := d.waitCase(tt.id, func(c takedown.Case) bool { return c.State == takedown.StateNoticed })
		ev := repairedEvent(t, d, tt.id)
		var data struct {
			Missing []takedown.Missing `json:"missing"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil || len(data.Missing) != 1 || data.Missing[0] != tt.missing {
			t.Errorf("case %s: repaired event %+v, want %s missing", tt.id, ev, tt.missing)
		}
		d.waitSchedule(tt.id)
		if tt.id == noticed && !c.Checks.NextCheckAt.Equal(planned) {
			t.Errorf("the repaired plan is %v, want the one the schedule had (%v)", c.Checks.NextCheckAt, planned)
		}
	}
	if msgs := f.relay.Messages(); len(msgs) != 2 {
		t.Errorf("relay got %d notices, want one per case", len(msgs))
	}
	metrics := d.scrape()
	for _, want := range []string{`takedownd_reconcile_repairs_total{missing="check"} 1`, `takedownd_reconcile_repairs_total{missing="route"} 1`, "takedownd_cases_without_next_step "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// createLostCase stores an enriched case of the flow's hoster as if its
// route work had been lost: nothing is enqueued for it.
func createLostCase(t *testing.T, d *daemon, id string) string {
	t.Helper()
	v := d.caseByURL(flowURL)
	c := v.Case
	c.ID, c.URL, c.OriginalURL = id, "http://www.hoster-a.nl/img/lost.jpg", "http://www.hoster-a.nl/img/lost.jpg"
	c.State, c.StateReason, c.Routing, c.Notices, c.Checks = takedown.StateEnriched, "", nil, nil, nil
	c.Reports = []takedown.ReportRef{{ReportID: "r-" + id, ReceivedAt: time.Now().UTC(), ConfirmedAt: time.Now().UTC(), Classification: "A1"}}
	if _, err := d.app.Store().CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return id
}

// repairedEvent waits for the case's repaired event.
func repairedEvent(t *testing.T, d *daemon, id string) takedown.Event {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		v := d.caseView(id)
		if ev := hasEvent(v, takedown.EventRepaired); ev != nil {
			return *ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %s: no repaired event on %+v", id, v.Timeline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
