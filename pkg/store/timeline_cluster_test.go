package store

import (
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
)

// TestClusterTimelineSeesEveryEvent: on an R3 cluster a batched direct
// get may be answered by a follower that has fallen behind, which leaves
// out the newest events; a timeline read asks the leader for the case's
// last event first and reads what is missing from it, so every event
// written before the read is in it.
func TestClusterTimelineSeesEveryEvent(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	lagging := (c.MetaLeader() + 1) % c.Len()
	nodes := []int{(lagging + 1) % c.Len(), (lagging + 2) % c.Len()}
	st := openOn(t, c.Connect(nodes...).JS)
	// Open made the stream; until it has a leader an append gets "no
	// response from stream".
	c.WaitStreamLeader(EventsStream)
	id := CaseID(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 7)
	appendN(t, st, id, 0, 5, "")
	c.WaitFor(waitBound, "the lagging node answering direct gets of the events", func() bool {
		return c.StreamCurrent(lagging, EventsStream) && c.AnswersDirectGets(lagging, EventsStream)
	})
	c.Lag(lagging)
	defer c.Release(lagging)
	appendN(t, st, id, 5, 10, "")

	// A direct get goes to any replica: some of these reach the laggard.
	stale := 0
	for range 40 {
		msgs, err := st.directBatches(t.Context(), EventsStream, EventsPrefix+id, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) < 10 {
			stale++
		}
	}
	if stale == 0 {
		t.Fatal("no direct get reached the lagging node: the test shows nothing")
	}
	for i := range 40 {
		tl, err := st.Timeline(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl) != 10 {
			t.Fatalf("read %d: %d events, want the 10 written before it", i, len(tl))
		}
	}
}
