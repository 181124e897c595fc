package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// syncBuffer is a log sink tests read while the store writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storeLimits are bounds for the store's own streams and buckets, with
// the given overrides.
func storeLimits(over Limits) Limits {
	l := Limits{
		EventsStream:           {MaxBytes: 64 << 20, MaxAge: 24 * time.Hour, Key: "storage.max_bytes.events"},
		WorkStream:             {MaxBytes: 8 << 20, Key: "storage.max_bytes.work"},
		DLQStream:              {MaxBytes: 16 << 20, MaxAge: time.Hour, DiscardOld: true, Key: "storage.max_bytes.dead_letters"},
		"KV_" + CasesBucket:    {MaxBytes: 32 << 20, Key: "storage.max_bytes.cases"},
		"KV_" + URLIndexBucket: {MaxBytes: 4 << 20, Key: "storage.max_bytes.urls"},
		"KV_" + ReportsBucket:  {MaxBytes: 4 << 20, Key: "storage.max_bytes.report_ids"},
		"KV_" + HealthBucket:   {MaxBytes: 1 << 20, Key: "fixed"},
	}
	for k, v := range over {
		l[k] = v
	}
	return l
}

// openLimited opens a store with limits on a fresh server, its log in buf.
func openLimited(t *testing.T, limits Limits, reg prometheus.Registerer, buf *syncBuffer) (*Store, *natstest.Server) {
	t.Helper()
	ns := natstest.Start(t)
	st, err := Open(t.Context(), ns.JS, Options{
		Retry:   broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(buf, nil)),
		Limits:  limits,
		Metrics: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, ns
}

// TestLimitsAreApplied: every stream and bucket the store makes carries
// its configured bounds and discard policy, and one without a configured
// limit is refused.
func TestLimitsAreApplied(t *testing.T) {
	t.Parallel()
	limits := storeLimits(nil)
	st, ns := openLimited(t, limits, nil, &syncBuffer{})
	for name, want := range limits {
		s, err := ns.JS.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		wantDiscard := jetstream.DiscardNew
		if want.DiscardOld {
			wantDiscard = jetstream.DiscardOld
		}
		if strings.HasPrefix(name, "KV_") {
			want.MaxAge = cfg.MaxAge // a bucket's age is its TTL, the stage's own
		}
		if cfg.MaxBytes != want.MaxBytes || cfg.MaxAge != want.MaxAge || cfg.Discard != wantDiscard {
			t.Errorf("%s: max_bytes %d, max_age %s, discard %s; want %d, %s, %s", name, cfg.MaxBytes, cfg.MaxAge, cfg.Discard, want.MaxBytes, want.MaxAge, wantDiscard)
		}
	}
	err := st.EnsureStream(t.Context(), jetstream.StreamConfig{Name: "UNLISTED", Subjects: []string{"unlisted.>"}})
	if !errors.Is(err, errNoLimit) {
		t.Errorf("a stream without a limit: %v, want %v", err, errNoLimit)
	}
	if _, err := st.EnsureKV(t.Context(), jetstream.KeyValueConfig{Bucket: "unlisted"}); !errors.Is(err, errNoLimit) {
		t.Errorf("a bucket without a limit: %v, want %v", err, errNoLimit)
	}

	// A restart with other limits updates them in place.
	limits[EventsStream] = Limit{MaxBytes: 128 << 20, Key: "storage.max_bytes.events"}
	if _, err := Open(t.Context(), ns.JS, Options{Retry: st.opts.Retry, Log: st.log, Limits: limits}); err != nil {
		t.Fatal(err)
	}
	s, err := ns.JS.Stream(t.Context(), EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxBytes != 128<<20 || cfg.MaxAge != 0 {
		t.Errorf("after a restart: max_bytes %d, max_age %s", cfg.MaxBytes, cfg.MaxAge)
	}
}

// TestDeadLettersDropTheOldest: a dead-letter stream over its size keeps
// the newest, says so in the metrics, and warns once per crossing of the
// warning threshold, not at every check.
func TestDeadLettersDropTheOldest(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	reg := prometheus.NewPedanticRegistry()
	var logs syncBuffer
	st, ns := openLimited(t, storeLimits(Limits{DLQStream: {MaxBytes: limit, MaxAge: time.Hour, DiscardOld: true, Expendable: true, Key: "storage.max_bytes.dead_letters"}}), reg, &logs)
	spam := func(from, to int) {
		for i := from; i < to; i++ {
			msg := nats.NewMsg(DLQPrefix + "inbound")
			msg.Data = bytes.Repeat([]byte{'x'}, 16<<10)
			msg.Header.Set(HeaderRejectReason, fmt.Sprintf("spam %d", i))
			if _, err := ns.JS.PublishMsg(t.Context(), msg); err != nil {
				t.Fatalf("dead letter %d: %v", i, err)
			}
		}
	}
	warnings := func() int { return strings.Count(logs.String(), "storage limit nearly reached") }
	check := func() {
		t.Helper()
		if err := st.CheckStorage(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	spam(0, 10) // 160 kB: under 80 %
	check()
	if n := warnings(); n != 0 {
		t.Fatalf("%d warnings under the threshold", n)
	}
	spam(10, 40) // 640 kB into 256 kB
	check()
	check()
	if n := warnings(); n != 1 {
		t.Errorf("%d warnings after crossing once, want 1:\n%s", n, logs.String())
	}
	s, err := ns.JS.Stream(t.Context(), DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > limit || info.State.LastSeq != 40 || info.State.FirstSeq == 1 {
		t.Fatalf("stream holds %d bytes, seq %d..%d; want at most %d and the newest kept", info.State.Bytes, info.State.FirstSeq, info.State.LastSeq, limit)
	}
	dls, err := st.DeadLetters(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) == 0 || dls[0].Seq != info.State.FirstSeq || dls[len(dls)-1].Reason != "spam 39" {
		t.Errorf("listing after the drop: %d dead letters from seq %d", len(dls), dls[0].Seq)
	}
	if got := metricValue(t, reg, "takedownd_dead_letters_limit_bytes"); got != limit {
		t.Errorf("takedownd_dead_letters_limit_bytes = %v", got)
	}
	if got := metricValue(t, reg, "takedownd_dead_letters_messages"); got != float64(info.State.Msgs) {
		t.Errorf("takedownd_dead_letters_messages = %v, want %d", got, info.State.Msgs)
	}
	// Dropping the oldest is what this stream does: it is never "full".
	if err := st.storageRoom(t.Context()); err != nil {
		t.Errorf("readiness with a dead-letter stream at its limit: %v", err)
	}

	// Emptied and filled again: a second crossing, a second warning.
	if err := s.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	check()
	spam(40, 60)
	check()
	if n := warnings(); n != 2 {
		t.Errorf("%d warnings after two crossings, want 2", n)
	}
}

// TestFullStateRefusesWrites: a bucket of state at its limit refuses the
// write that does not fit (nothing is dropped to make room), and
// readiness names it with the key to raise.
func TestFullStateRefusesWrites(t *testing.T) {
	t.Parallel()
	st, _ := openLimited(t, storeLimits(Limits{"KV_" + CasesBucket: {MaxBytes: 4 << 20, Key: "storage.max_bytes.cases"}}), nil, &syncBuffer{})
	if err := st.CheckStorage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.storageRoom(t.Context()); err != nil {
		t.Fatalf("readiness of an empty store: %v", err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var created []string
	var refused error
	for i := range 1000 {
		id := CaseID(base.Add(time.Duration(i)*time.Second), uint64(i+1))
		c := takedown.Case{ID: id, State: takedown.StateReceived, URL: "http://hoster.example/" + strings.Repeat("a", 16<<10)}
		if _, err := st.CreateCase(t.Context(), c); err != nil {
			refused = err
			break
		}
		created = append(created, id)
	}
	if refused == nil {
		t.Fatal("1,000 cases of 16 kB fit in 4 MB")
	}
	for _, id := range created {
		if _, _, err := st.GetCase(t.Context(), id); err != nil {
			t.Fatalf("case %s after the bucket filled: %v", id, err)
		}
	}
	if err := st.CheckStorage(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := st.storageRoom(context.Background())
	if err == nil || !strings.Contains(err.Error(), "KV_takedown_cases is full") || !strings.Contains(err.Error(), "storage.max_bytes.cases") {
		t.Errorf("readiness of a full cases bucket: %v", err)
	}
}

// metricValue is the value of the one sample of a registered gauge.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
