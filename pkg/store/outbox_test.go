package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// stepClock is a clock a test moves by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type outboxFixture struct {
	st    *Store
	ns    *natstest.Server
	clock *stepClock
	id    string
	// sent counts every append of an event id the server saw, kept or
	// dropped as a duplicate.
	mu   sync.Mutex
	sent map[string]int
}

var errCrash = errors.New("crash")

func newOutboxFixture(t *testing.T) *outboxFixture {
	t.Helper()
	f := &outboxFixture{ns: natstest.Start(t), clock: &stepClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}, sent: map[string]int{}}
	var err error
	f.st, err = Open(t.Context(), f.ns.JS, Options{
		// The bound of an append nobody acknowledges (TestOutboxAppendRefused).
		Retry: broker.Retrier{CallTimeout: 2 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond},
		Now:   f.clock.now, Log: slog.New(slog.DiscardHandler), OutboxSweep: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ns.Conn.Subscribe(EventsPrefix+">", func(m *nats.Msg) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sent[m.Header.Get(jetstream.MsgIDHeader)]++
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.ns.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	f.id = CaseID(f.clock.now(), 1)
	if _, err := f.st.CreateCase(t.Context(), takedown.Case{ID: f.id, State: takedown.StateReceived},
		takedown.Event{ID: "received-" + f.id, CaseID: f.id, Type: takedown.EventReceived}); err != nil {
		t.Fatal(err)
	}
	return f
}

// change moves the case on with one event, stopping at crash ("" for
// none).
func (f *outboxFixture) change(t *testing.T, evID string, to takedown.State, crash string) error {
	t.Helper()
	f.st.crashAt = func(point string) error {
		if point == crash {
			return errCrash
		}
		return nil
	}
	defer func() { f.st.crashAt = nil }()
	_, err := f.st.Update(t.Context(), f.id, func(c *takedown.Case) ([]takedown.Event, error) {
		ev := takedown.Event{ID: evID, CaseID: c.ID, Type: takedown.EventStateChanged, From: c.State, To: to}
		return []takedown.Event{ev}, c.MoveTo(to, "test", f.clock.now())
	})
	return err
}

// onTrail counts the events with each id on the case's trail.
func (f *outboxFixture) onTrail(t *testing.T) map[string]int {
	t.Helper()
	evs, err := f.st.trail(t.Context(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.ID]++
	}
	return n
}

func (f *outboxFixture) outbox(t *testing.T) []pendingEvent {
	t.Helper()
	rec, _, err := f.st.caseRecords().Get(t.Context(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Outbox
}

func (f *outboxFixture) appends(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[id]
}

// A change committed to a case gets its event on the trail exactly once,
// whether the process stops after the write (before any append) or after
// the append (before the event leaves the record), and whatever repairs
// it: the next change, a unit of work that finds nothing to change, or the
// sweep.
func TestOutboxStopBetweenChangeAndEvents(t *testing.T) {
	t.Parallel()
	repairs := map[string]func(t *testing.T, f *outboxFixture){
		"next change": func(t *testing.T, f *outboxFixture) {
			if err := f.change(t, "routed-1", takedown.StateRouted, ""); err != nil {
				t.Fatal(err)
			}
		},
		"no change": func(t *testing.T, f *outboxFixture) {
			if _, err := f.st.Update(t.Context(), f.id, func(*takedown.Case) ([]takedown.Event, error) { return nil, ErrNoChange }); err != nil {
				t.Fatal(err)
			}
		},
		"sweep": func(t *testing.T, f *outboxFixture) {
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			wg.Go(func() { _ = f.st.RunCaseIndex(ctx) })
			wg.Go(func() { _ = f.st.RunOutbox(ctx) })
			defer func() { cancel(); wg.Wait() }()
			f.clock.add(time.Minute) // past the grace a live writer gets
			deadline := time.Now().Add(waitBound)
			for len(f.outbox(t)) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("the sweep left the outbox as it was")
				}
				time.Sleep(10 * time.Millisecond)
			}
		},
	}
	for _, crash := range []string{"committed", "appended"} {
		for name, repair := range repairs {
			t.Run(crash+"/"+name, func(t *testing.T) {
				t.Parallel()
				f := newOutboxFixture(t)
				if err := f.change(t, "enriched-1", takedown.StateEnriched, crash); !errors.Is(err, errCrash) {
					t.Fatalf("change: %v, want the injected crash", err)
				}
				if got := f.outbox(t); len(got) != 1 || got[0].Event.ID != "enriched-1" {
					t.Fatalf("outbox after the stop: %+v, want the change's event", got)
				}
				if crash == "committed" && f.onTrail(t)["enriched-1"] != 0 {
					t.Fatal("event on the trail before any append")
				}
				repair(t, f)
				trail := f.onTrail(t)
				if trail["enriched-1"] != 1 || trail["received-"+f.id] != 1 {
					t.Errorf("trail %v: want the opening and the change's event once each", trail)
				}
				if name == "next change" && trail["routed-1"] != 1 {
					t.Errorf("trail %v lacks the next change's event", trail)
				}
				if got := f.outbox(t); len(got) != 0 {
					t.Errorf("outbox after the repair: %+v, want empty", got)
				}
			})
		}
	}
}

// Past most of the events stream's duplicate window, an event left in the
// record is appended only if the trail lacks it: the one that did reach
// the trail (its drop from the record was lost) is not appended again,
// the one that did not is, once.
func TestOutboxBeyondTheDuplicateWindow(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	if err := f.change(t, "enriched-1", takedown.StateEnriched, "appended"); !errors.Is(err, errCrash) {
		t.Fatalf("change: %v", err)
	}
	if err := f.change(t, "routed-1", takedown.StateRouted, "committed"); !errors.Is(err, errCrash) {
		t.Fatalf("change: %v", err)
	}
	if got := f.outbox(t); len(got) != 2 {
		t.Fatalf("outbox %+v, want both events", got)
	}
	before := f.appends("enriched-1")
	f.clock.add(3 * time.Hour)
	n, err := f.st.repairOutbox(t.Context(), f.id)
	if err != nil || n != 2 {
		t.Fatalf("repair: %d events, %v; want 2", n, err)
	}
	if got := f.appends("enriched-1"); got != before {
		t.Errorf("enriched-1 appended %d more times; it was on the trail already", got-before)
	}
	trail := f.onTrail(t)
	if trail["enriched-1"] != 1 || trail["routed-1"] != 1 {
		t.Errorf("trail %v: want each event once", trail)
	}
	if got := f.outbox(t); len(got) != 0 {
		t.Errorf("outbox after the repair: %+v", got)
	}
}

// A case's opening events reach the trail even when the process stops
// right after writing the case.
func TestOutboxCreate(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	id := CaseID(f.clock.now(), 2)
	f.st.crashAt = func(point string) error { return errCrash }
	_, err := f.st.CreateCase(t.Context(), takedown.Case{ID: id, State: takedown.StateReceived},
		takedown.Event{ID: "received-" + id, Type: takedown.EventReceived})
	f.st.crashAt = nil
	if !errors.Is(err, errCrash) {
		t.Fatalf("create: %v", err)
	}
	if _, err := f.st.repairOutbox(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	f.id = id
	if trail := f.onTrail(t); trail["received-"+id] != 1 {
		t.Errorf("trail %v: want the opening event once", trail)
	}
}

// A committed change whose events are not on the trail yet still shows
// them in the case's timeline, once, so a reader never sees a state
// without the event that led to it.
func TestTimelineShowsPendingEvents(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	if err := f.change(t, "ev-pending", takedown.StateEnriched, "committed"); !errors.Is(err, errCrash) {
		t.Fatalf("change: %v", err)
	}
	if trail := f.onTrail(t); trail["ev-pending"] != 0 {
		t.Fatalf("trail %v: the stopped change must not have appended its event", trail)
	}
	evs, err := f.st.Timeline(t.Context(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.ID]++
	}
	if n["ev-pending"] != 1 || n["received-"+f.id] != 1 || len(evs) != 2 {
		t.Errorf("timeline %v: want the opening event and the pending one, once each", n)
	}
	if last := evs[len(evs)-1]; last.ID != "ev-pending" || last.Seq != 0 {
		t.Errorf("last event %s seq %d: want the pending one, with no sequence yet", last.ID, last.Seq)
	}
	if _, err := f.st.repairOutbox(t.Context(), f.id); err != nil {
		t.Fatal(err)
	}
	if trail := f.onTrail(t); trail["ev-pending"] != 1 {
		t.Errorf("trail %v after repair: want the event once", trail)
	}
}

// An append the events stream refuses does not undo or repeat the change:
// Update reports it made, the event waits in the record, and the sweep's
// repair appends it once the stream takes appends again.
func TestOutboxAppendRefused(t *testing.T) {
	t.Parallel()
	f := newOutboxFixture(t)
	ctx := t.Context()
	info, err := f.ns.JS.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if err := f.ns.JS.DeleteStream(ctx, EventsStream); err != nil {
		t.Fatal(err)
	}
	if err := f.change(t, "enriched-1", takedown.StateEnriched, ""); err != nil {
		t.Fatalf("change with the events stream gone: %v, want it made", err)
	}
	if c, _, err := f.st.GetCase(ctx, f.id); err != nil || c.State != takedown.StateEnriched {
		t.Fatalf("case %s, %v; want enriched", c.State, err)
	}
	if got := f.outbox(t); len(got) != 1 {
		t.Fatalf("outbox %+v, want the refused event", got)
	}
	if _, err := f.ns.JS.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.repairOutbox(ctx, f.id); err != nil {
		t.Fatal(err)
	}
	if trail := f.onTrail(t); trail["enriched-1"] != 1 {
		t.Errorf("trail %v: want the change's event once", trail)
	}
	if got := f.outbox(t); len(got) != 0 {
		t.Errorf("outbox after the repair: %+v", got)
	}
}
