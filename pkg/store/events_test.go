package store

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// appendN appends events from..to-1 to a case's trail.
func appendN(t testing.TB, st *Store, caseID string, from, to int, reason string) {
	t.Helper()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < to; i += 500 {
		var evs []takedown.Event
		for j := i; j < min(to, i+500); j++ {
			evs = append(evs, takedown.Event{
				ID: fmt.Sprintf("%s-%d", caseID, j), CaseID: caseID, Type: takedown.EventChecked,
				At: base.Add(time.Duration(j) * time.Second), Actor: "test", Reason: reason,
			})
		}
		if err := st.AppendEvents(t.Context(), evs...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	short, long, other, empty := CaseID(base, 1), CaseID(base, 2), CaseID(base, 3), CaseID(base, 4)
	appendN(t, st, other, 0, 7, "")
	appendN(t, st, short, 0, 3, "")
	// Long enough for several batches, by count and by the server's byte
	// bound on one batch (64 MB would be far more than this; 2,500 events
	// of 1 kB pass the batch size of 1,000 twice).
	appendN(t, st, long, 0, 2500, strings.Repeat("x", 1000))
	appendN(t, st, other, 7, 14, "") // interleaved with the others' events

	tests := []struct {
		name   string
		caseID string
		want   int
	}{
		{"short", short, 3},
		{"several batches", long, 2500},
		{"interleaved", other, 14},
		{"no events", empty, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := st.Timeline(t.Context(), tc.caseID)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl) != tc.want {
				t.Fatalf("%d events, want %d", len(tl), tc.want)
			}
			var prev uint64
			for i, ev := range tl {
				if ev.CaseID != tc.caseID {
					t.Fatalf("event %d belongs to %s", i, ev.CaseID)
				}
				if ev.Seq <= prev {
					t.Fatalf("event %d: seq %d after %d", i, ev.Seq, prev)
				}
				prev = ev.Seq
			}
		})
	}
	// What a lagging replica leaves out is read from the leader one by
	// one: that path reads the same trail.
	t.Run("from the leader", func(t *testing.T) {
		tl, err := st.Timeline(t.Context(), other)
		if err != nil {
			t.Fatal(err)
		}
		last, err := st.leaderLastSeq(t.Context(), EventsStream, EventsPrefix+other)
		if err != nil || last != tl[len(tl)-1].Seq {
			t.Fatalf("leader's last sequence %d (%v), timeline ends at %d", last, err, tl[len(tl)-1].Seq)
		}
		var seqs []uint64
		for seq := uint64(1); ; {
			msg, err := st.leaderNext(t.Context(), EventsStream, EventsPrefix+other, seq)
			if err != nil {
				t.Fatal(err)
			}
			if msg == nil {
				break
			}
			seqs = append(seqs, msgSeq(msg))
			seq = msgSeq(msg) + 1
		}
		if len(seqs) != len(tl) {
			t.Fatalf("leader gave %d messages, timeline %d", len(seqs), len(tl))
		}
		for i := range seqs {
			if seqs[i] != tl[i].Seq {
				t.Fatalf("message %d: leader seq %d, timeline seq %d", i, seqs[i], tl[i].Seq)
			}
		}
	})
	if _, err := st.Timeline(t.Context(), "not-a-case"); err == nil {
		t.Error("timeline of an invalid id: no error")
	}
}

// TestReadsLeaveNoConsumers reads timelines, pages of cases and dead
// letters many times over and checks that the server holds no more
// consumers than before: a read that leaves one behind (as an ordered
// consumer does for five minutes) fills the server's limit within a few
// hundred reads.
func TestReadsLeaveNoConsumers(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ids := seed(t, st, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 30)
	for _, id := range ids {
		appendN(t, st, id, 0, 12, "")
	}
	js := st.JetStream()
	before := consumerCounts(t, st)
	for i := range 2000 {
		id := ids[i%len(ids)]
		if i%2 == 0 {
			id = ids[0] // the same case, over and over
		}
		tl, err := st.Timeline(t.Context(), id)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if len(tl) != 12 {
			t.Fatalf("read %d: %d events, want 12", i, len(tl))
		}
		if i%20 == 0 {
			// Without the case index List falls back to listing the keys.
			if _, _, err := st.List(t.Context(), ListFilter{State: takedown.StateNoticed, Limit: 5}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DeadLetters(t.Context(), 0, 10); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := consumerCounts(t, st)
	if !maps.Equal(after, before) {
		t.Errorf("consumers before %v, after %v", before, after)
	}
	ai, err := js.AccountInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ai.Consumers != 0 {
		t.Errorf("account holds %d consumers after the reads", ai.Consumers)
	}
}

// consumerCounts is the number of consumers on each of the store's streams.
func consumerCounts(t *testing.T, st *Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, name := range []string{EventsStream, WorkStream, DLQStream, "KV_" + CasesBucket} {
		s, err := st.JetStream().Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out[name] = info.State.Consumers
	}
	return out
}
