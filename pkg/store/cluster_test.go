package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func openOn(t *testing.T, js jetstream.JetStream) *Store {
	t.Helper()
	st, err := Open(t.Context(), js, Options{
		Replicas: 3,
		Retry:    broker.Retrier{CallTimeout: 10 * time.Second, Attempts: 5, Backoff: 100 * time.Millisecond},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// getCounter counts the reads of a stream's messages that pass through
// one node, by how they are asked: direct (any replica answers) or
// through the stream leader.
type getCounter struct{ direct, leader atomic.Int64 }

func countGets(t *testing.T, nc *nats.Conn, stream string) *getCounter {
	t.Helper()
	gc := &getCounter{}
	for subj, n := range map[string]*atomic.Int64{
		"$JS.API.DIRECT.GET." + stream:        &gc.direct,
		"$JS.API.DIRECT.GET." + stream + ".>": &gc.direct,
		"$JS.API.STREAM.MSG.GET." + stream:    &gc.leader,
	} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) { n.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return gc
}

// On an R3 cluster a replica connected to a follower that has fallen
// behind still decides on the latest case: its reads go to the stream
// leader (and wait for it), while a direct get through the same follower
// answers with the value before the write. The buckets were made by an
// older version with direct get on; opening the store turns it off.
func TestClusterReadsSeeTheirWrites(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	ctx := t.Context()
	setup := c.Connect()
	const casesStream = "KV_" + CasesBucket
	// An old deployment: nats.go's defaults, direct get allowed.
	if _, err := setup.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: CasesBucket, History: 1, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	control, err := setup.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "control", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := openOn(t, setup.JS)
	info, err := setup.JS.Stream(ctx, casesStream)
	if err != nil {
		t.Fatal(err)
	}
	if info.CachedInfo().Config.AllowDirect {
		t.Fatal("cases bucket still allows direct get after Open")
	}

	id := CaseID(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 1)
	if _, err := st.CreateCase(ctx, takedown.Case{ID: id, State: takedown.StateReceived}); err != nil {
		t.Fatal(err)
	}
	if _, err := control.Put(ctx, "k", []byte(takedown.StateReceived)); err != nil {
		t.Fatal(err)
	}
	// Hold a node that follows both streams.
	held := -1
	for i := range c.Len() {
		if i != c.WaitStreamLeader(casesStream) && i != c.WaitStreamLeader("KV_control") {
			held = i
			break
		}
	}
	others := []int{(held + 1) % 3, (held + 2) % 3}
	c.WaitFor(waitBound, "held node current on both streams", func() bool {
		return c.StreamCurrent(held, casesStream) && c.AnswersDirectGets(held, "KV_control")
	})
	atHeld := c.Connect(held)
	gets := countGets(t, c.Connect(held).Conn, casesStream)
	stHeld := openOn(t, atHeld.JS)
	controlHeld, err := atHeld.JS.KeyValue(ctx, "control")
	if err != nil {
		t.Fatal(err)
	}
	atOthers := c.Connect(others...)
	stOthers := openOn(t, atOthers.JS)
	controlOthers, err := atOthers.JS.KeyValue(ctx, "control")
	if err != nil {
		t.Fatal(err)
	}

	c.Hold(held)
	released := false
	defer func() {
		if !released {
			c.Release(held)
		}
	}()
	if _, err := stOthers.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		return nil, c.MoveTo(takedown.StateEnriched, "test", time.Now())
	}); err != nil {
		t.Fatalf("update with a node held: %v", err)
	}
	if _, err := controlOthers.Put(ctx, "k", []byte(takedown.StateEnriched)); err != nil {
		t.Fatal(err)
	}
	if got := c.StaleDirectGet(controlHeld, "k", string(takedown.StateEnriched), 100); got != string(takedown.StateReceived) {
		t.Fatalf("control: the held node answered %q, want the stale %q", got, takedown.StateReceived)
	}
	type read struct {
		c   takedown.Case
		err error
	}
	done := make(chan read, 1)
	go func() {
		got, _, err := stHeld.GetCase(ctx, id)
		done <- read{got, err}
	}()
	c.Release(held)
	released = true
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.c.State != takedown.StateEnriched {
		t.Errorf("read through the lagging node: state %s, want %s (the write before it)", r.c.State, takedown.StateEnriched)
	}
	for i := range c.Len() {
		if c.AnswersDirectGets(i, casesStream) {
			t.Errorf("node %d answers direct gets of the cases bucket", i)
		}
	}
	if d, l := gets.direct.Load(), gets.leader.Load(); d != 0 || l == 0 {
		t.Errorf("reads of cases through the held node: %d direct, %d through the leader; want 0 direct", d, l)
	}
}

// Replicas on different nodes updating one case at once all get their
// change in: a lost compare-and-set on an R3 stream (error code 10164,
// not 10071) is retried, not returned.
func TestClusterCompareAndSetRetries(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	ctx := t.Context()
	stores := make([]*Store, c.Len())
	for i := range stores {
		stores[i] = openOn(t, c.Connect(i).JS)
	}
	id := CaseID(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 2)
	if _, err := stores[0].CreateCase(ctx, takedown.Case{ID: id, State: takedown.StateReceived}); err != nil {
		t.Fatal(err)
	}
	const perStore = 10
	var g errgroup.Group
	for i, st := range stores {
		for j := range perStore {
			g.Go(func() error {
				ref := fmt.Sprintf("r-%d-%d", i, j)
				_, err := st.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
					c.AddReport(takedown.ReportRef{ReportID: ref})
					return nil, nil
				})
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, waitBound)
	defer cancel()
	got, _, err := stores[1].GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(stores) * perStore; got.ReportCount != want {
		t.Errorf("report count %d, want %d: updates were lost", got.ReportCount, want)
	}
}
