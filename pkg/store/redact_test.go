package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// redactAll is a Redactor that keeps type and time and drops the rest.
func redactAll(ev takedown.Event, raw []byte) (takedown.Event, bool) {
	if ev.Type == "keep" {
		return ev, false
	}
	return takedown.Event{ID: ev.ID, CaseID: ev.CaseID, Type: ev.Type, At: ev.At,
		Redacted: &takedown.Redaction{Seq: ev.Seq, Digest: "d" + string(rune('0'+len(raw)%10))}}, true
}

func TestRedactTimelineReplacesAndErases(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	id := CaseID(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []takedown.Event
	for i, typ := range []takedown.EventType{"received", "noticed", "keep", "replied"} {
		events = append(events, takedown.Event{ID: string(typ) + "-1", CaseID: id, Type: typ, At: at.Add(time.Duration(i) * time.Minute),
			Reason: "from abuse@hoster.example about http://site.example/a.jpg"})
	}
	if err := st.AppendEvents(t.Context(), events...); err != nil {
		t.Fatal(err)
	}
	before, err := st.Timeline(t.Context(), id)
	if err != nil || len(before) != 4 {
		t.Fatalf("timeline %d events, %v", len(before), err)
	}
	// A stop after the first copy was appended, before its original
	// was erased: the copy is on the trail, the original too.
	first, _ := redactAll(before[0], nil)
	if err := st.appendCopy(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	n, err := st.RedactTimeline(t.Context(), id, redactAll)
	if err != nil || n != 3 {
		t.Fatalf("RedactTimeline = %d, %v; want 3 copies", n, err)
	}
	after, err := st.Timeline(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range after {
		types = append(types, string(ev.Type))
		if ev.Type != "keep" && (ev.Redacted == nil || strings.Contains(ev.Reason, "@")) {
			t.Errorf("event %s not redacted: %+v", ev.Type, ev)
		}
	}
	if got := strings.Join(types, " "); got != "keep received noticed replied" {
		t.Errorf("trail after: %s", got)
	}
	stream, err := st.js.Stream(t.Context(), EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range before {
		_, err := stream.GetMsg(t.Context(), ev.Seq)
		if ev.Type == "keep" {
			if err != nil {
				t.Errorf("kept event %d: %v", ev.Seq, err)
			}
			continue
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Errorf("original %s at %d still there: %v", ev.Type, ev.Seq, err)
		}
	}
	// Run again: nothing left to do, nothing copied twice.
	if n, err := st.RedactTimeline(t.Context(), id, redactAll); err != nil || n != 3 {
		t.Errorf("second run = %d, %v", n, err)
	}
	if again, _ := st.Timeline(t.Context(), id); len(again) != 4 {
		t.Errorf("%d events after a second run, want 4", len(again))
	}
}

func TestReleaseURLOnlyOurs(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ours := CaseID(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	theirs := CaseID(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), 2)
	if _, _, err := st.ClaimURL(t.Context(), "k1", ours); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ClaimURL(t.Context(), "k2", theirs); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		if err := st.ReleaseURL(t.Context(), key, ours); err != nil {
			t.Fatalf("release %s: %v", key, err)
		}
	}
	if _, err := st.CaseOfURL(t.Context(), "k1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("k1 still indexed: %v", err)
	}
	if got, err := st.CaseOfURL(t.Context(), "k2"); err != nil || got != theirs {
		t.Errorf("k2 → %q, %v; want it kept for %s", got, err, theirs)
	}
	stream, err := st.js.Stream(t.Context(), "KV_"+URLIndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter("$KV."+URLIndexBucket+".k1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects["$KV."+URLIndexBucket+".k1"]; n != 0 {
		t.Errorf("%d messages left on k1's subject (a delete marker keeps the key)", n)
	}
	// A new report of the URL claims it afresh.
	if holder, _, err := st.ClaimURL(t.Context(), "k1", theirs); err != nil || holder != theirs {
		t.Errorf("claim after release: %s, %v", holder, err)
	}
}
