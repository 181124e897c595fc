package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// runIndex runs the case index until the test ends and waits until it
// follows the bucket; the returned channel has RunCaseIndex's result.
func runIndex(t *testing.T, st *Store) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.RunCaseIndex(ctx) }()
	t.Cleanup(cancel)
	waitFor(t, "case index following", st.index.following.Load)
	return done
}

// stopWatch ends the case index's watch behind its back.
func stopWatch(t *testing.T, st *Store) {
	t.Helper()
	st.index.mu.Lock()
	w := st.index.watch
	st.index.mu.Unlock()
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
}

// waitReason polls Ready (whose answers are kept a second) until it fails
// naming reason.
func waitReason(t *testing.T, st *Store, reason string) {
	t.Helper()
	var last error
	waitFor(t, "not ready because "+reason, func() bool {
		last = st.Ready(t.Context())
		return last != nil && strings.Contains(last.Error(), reason)
	})
}

func TestReadyReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reason string
		// break_ makes the store unready in one way.
		break_ func(t *testing.T, st *Store)
	}{
		{
			name: "a stage's consumer is missing", reason: "consumer takedownd-probe is missing",
			break_: func(t *testing.T, st *Store) {
				if err := st.JetStream().DeleteConsumer(t.Context(), WorkStream, "takedownd-probe"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "the case index watch ended", reason: "case index is not following",
			break_: stopWatch,
		},
		{
			name: "the case index stays behind", reason: "case index has stopped following",
			break_: func(t *testing.T, st *Store) {
				// The watch runs but sees nothing more: as if it hung.
				stopWatch(t, st)
				waitFor(t, "watch ended", func() bool { return !st.index.following.Load() })
				st.index.following.Store(true)
				st.health.mu.Lock()
				st.health.followGrace = 100 * time.Millisecond
				st.health.mu.Unlock()
				now := time.Now().UTC()
				if _, err := st.CreateCase(t.Context(), takedown.Case{ID: CaseID(now, 99), State: takedown.StateReceived, ReceivedAt: now}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "a write cannot be committed", reason: "a write was not committed within",
			break_: func(t *testing.T, st *Store) {
				s, err := st.JetStream().Stream(t.Context(), "KV_"+HealthBucket)
				if err != nil {
					t.Fatal(err)
				}
				cfg := s.CachedInfo().Config
				cfg.Sealed = true // the server refuses every write from now on
				if _, err := st.JetStream().UpdateStream(t.Context(), cfg); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			if _, err := st.EnsureWorkConsumer(t.Context(), WorkConsumerConfig{Stage: "probe", AckWait: time.Second, MaxDeliver: -1, MaxAckPending: 10}); err != nil {
				t.Fatal(err)
			}
			runIndex(t, st)
			waitFor(t, "ready", func() bool { return st.Ready(t.Context()) == nil })
			tt.break_(t, st)
			waitReason(t, st, tt.reason)
		})
	}
}

// RunCaseIndex reports a watch that ended as an error (so the daemon
// restarts it), and a new run loads the bucket afresh: a case deleted
// while it was not following is gone from the index.
func TestCaseIndexReportsAnEndedWatchAndReloads(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ids := seed(t, st, time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 3)
	done := runIndex(t, st)
	stopWatch(t, st)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("RunCaseIndex returned nil when its watch ended")
		}
	case <-time.After(waitBound):
		t.Fatal("RunCaseIndex ran on after its watch ended")
	}
	kv, err := st.JetStream().KeyValue(t.Context(), CasesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(t.Context(), ids[1]); err != nil {
		t.Fatal(err)
	}
	runIndex(t, st)
	got, _, ok := st.index.next("", "", "", "", nil, 10)
	if !ok || len(got) != 2 || got[0] != ids[0] || got[1] != ids[2] {
		t.Errorf("index after reload %v (loaded %v), want %v without %s", got, ok, ids, ids[1])
	}
}

// On an R3 cluster, a replica whose node stays up while the other two are
// lost still reads its own node's state, but its writes cannot commit: it
// is not ready, and says so; one node lost of three leaves a quorum, and
// it stays ready.
func TestClusterReplicaWithoutQuorumIsNotReady(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	cl := c.Connect(0)
	st := openOn(t, cl.JS)
	st.opts.ReadyTimeout = time.Second
	runIndex(t, st)
	waitFor(t, "ready on the whole cluster", func() bool { return st.Ready(t.Context()) == nil })

	c.Stop(2)
	waitFor(t, "ready with two nodes of three", func() bool { return st.Ready(t.Context()) == nil })

	c.Stop(1)
	waitReason(t, st, "a write was not committed")
}
