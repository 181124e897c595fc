package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// A change with events is two writes; the watchers see the second as the
// first with its outbox dropped, and skip its decode.
func TestWatchCasesSkipsTheOutboxDrop(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ids := seed(t, st, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 2)
	f := &recordFeed{states: map[string]takedown.State{}, revs: map[string]uint64{}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = st.WatchCases(ctx, 0, f) }()
	waitFor(t, "the feed loaded", func() bool { _, loaded := f.snapshot(); return loaded })

	id := ids[1]
	if _, err := st.Update(t.Context(), id, func(c *takedown.Case) ([]takedown.Event, error) {
		c.State = takedown.StateEnriched
		return []takedown.Event{{Type: takedown.EventEnriched, Actor: "test"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	e, err := st.cases.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the feed at the case's last revision", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sames[id] > 0 || f.revs[id] >= e.Revision()
	})
	puts, sames := f.calls(id)
	if got, _ := f.snapshot(); got[id] != takedown.StateEnriched {
		t.Errorf("feed holds %q, want enriched", got[id])
	}
	// Put once at load, once for the change; the drop is Same.
	if puts != 2 || sames != 1 {
		t.Errorf("the change came as %d puts and %d sames, want 2 and 1", puts, sames)
	}
	// The case index saw the drop too: nothing pending.
	waitFor(t, "no case with pending events", func() bool { return st.pending.count() == 0 })
}

// fakeEntry is a watch entry of the cases bucket.
type fakeEntry struct {
	jetstream.KeyValueEntry
	key   string
	value string
	op    jetstream.KeyValueOp
}

func (e fakeEntry) Key() string                     { return e.key }
func (e fakeEntry) Value() []byte                   { return []byte(e.value) }
func (e fakeEntry) Operation() jetstream.KeyValueOp { return e.op }

func TestClearWatch(t *testing.T) {
	put := func(key, v string) fakeEntry { return fakeEntry{key: key, value: v, op: jetstream.KeyValuePut} }
	for _, tc := range []struct {
		name        string
		first, next jetstream.KeyValueEntry
		want        bool
	}{
		{"the outbox dropped", put("a", `{"id":"a","state":"routed","outbox":[{"event":{}}]}`), put("a", `{"id":"a","state":"routed"}`), true},
		{"a change besides", put("a", `{"id":"a","state":"routed","outbox":[{}]}`), put("a", `{"id":"a","state":"noticed"}`), false},
		{"another case", put("a", `{"id":"a","outbox":[{}]}`), put("b", `{"id":"a"}`), false},
		{"no outbox before", put("a", `{"id":"a","state":"routed"}`), put("a", `{"id":"a","state":"routed"}`), false},
		{"a deletion", put("a", `{"id":"a","outbox":[{}]}`), fakeEntry{key: "a", op: jetstream.KeyValueDelete}, false},
		{"the same record again", put("a", `{"id":"a","outbox":[{}]}`), put("a", `{"id":"a","outbox":[{}]}`), false},
		{"new events", put("a", `{"id":"a","outbox":[{"n":1}]}`), put("a", `{"id":"a","outbox":[{"n":2}]}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newClearWatch()
			if w.dropsOutbox(tc.first) {
				t.Fatal("a first write taken for a drop")
			}
			if got := w.dropsOutbox(tc.next); got != tc.want {
				t.Errorf("dropsOutbox = %v, want %v", got, tc.want)
			}
			if tc.want && len(w.kept) != 0 {
				t.Errorf("%d writes kept after the drop", len(w.kept))
			}
		})
	}
}

// A member named outbox inside another member comes first in the bytes:
// the only write that would pass for the drop is cut inside that member,
// and no such write is JSON (so no record json.Marshal writes).
func TestClearWatchNestedOutboxIsNoRecord(t *testing.T) {
	first := `{"id":"a","x":{"y":1,"outbox":[1]},"outbox":[{}]}`
	w := newClearWatch()
	w.dropsOutbox(fakeEntry{key: "a", value: first, op: jetstream.KeyValuePut})
	passes := string(w.kept["a"]) + "}"
	if json.Valid([]byte(passes)) {
		t.Errorf("%s would pass for the drop and is JSON", passes)
	}
}
