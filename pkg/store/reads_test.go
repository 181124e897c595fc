package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestSingleReplicaBucketsReadDirect: on one server, a bucket that decides
// keeps (or, made by an older version without it, gets back) direct get,
// and a read right after a write sees it. TestClusterReadsSeeTheirWrites
// is the other half: on R3 direct get goes off.
func TestSingleReplicaBucketsReadDirect(t *testing.T) {
	ns := natstest.Start(t)
	ctx := t.Context()
	// An older version's bucket: direct get off.
	if _, err := ns.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: CasesBucket, History: 1}); err != nil {
		t.Fatal(err)
	}
	setDirect(t, ns.JS, "KV_"+CasesBucket, false)

	st := openOn1(t, ns.JS)
	for _, bucket := range []string{CasesBucket, URLIndexBucket, ReportsBucket} {
		info, err := ns.JS.Stream(ctx, "KV_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		if !info.CachedInfo().Config.AllowDirect {
			t.Errorf("%s: a bucket of one replica reads by direct get, but it is off", bucket)
		}
	}
	id := CaseID(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), 1)
	if _, err := st.CreateCase(ctx, takedown.Case{ID: id, State: takedown.StateReceived}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		reason := fmt.Sprint("write ", i)
		if _, err := st.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
			c.StateReason = reason
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		c, _, err := st.GetCase(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.StateReason != reason {
			t.Fatalf("read after write %d: %q", i, c.StateReason)
		}
	}
}

func openOn1(t testing.TB, js jetstream.JetStream) *Store {
	t.Helper()
	st, err := Open(context.Background(), js, Options{
		Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func setDirect(tb testing.TB, js jetstream.JetStream, stream string, on bool) {
	tb.Helper()
	ctx := context.Background()
	info, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	sc := info.CachedInfo().Config
	sc.AllowDirect = on
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkBucketGet reads a 2 kB record (a case's size) through the
// stream leader's API and by direct get, on one server, and reports the
// process's CPU time per read (server and client are both in it):
//
//	go test -run '^$' -bench BenchmarkBucketGet -benchtime 20000x ./pkg/store
func BenchmarkBucketGet(b *testing.B) {
	for _, direct := range []bool{false, true} {
		b.Run(fmt.Sprint("direct=", direct), func(b *testing.B) {
			js := natstest.Start(b).JS
			ctx := context.Background()
			kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", Storage: jetstream.FileStorage})
			if err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 2200)
			const keys = 1000
			for i := range keys {
				if _, err := kv.Put(ctx, fmt.Sprint("k", i), value); err != nil {
					b.Fatal(err)
				}
			}
			setDirect(b, js, "KV_bench", direct)
			if kv, err = js.KeyValue(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			cpu := natstest.CPUTime()
			b.ResetTimer()
			for i := range b.N {
				if _, err := kv.Get(ctx, fmt.Sprint("k", i%keys)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((natstest.CPUTime()-cpu).Nanoseconds())/1000/float64(b.N), "cpu_µs/get")
		})
	}
}
