package app

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestEveryStreamHasLimits: every stream and bucket the daemon makes,
// whatever stage makes it, carries a size limit from the configuration
// with the discard policy its content needs, the embedded server's store
// is sized to the limits, and /metrics shows each limit.
func TestEveryStreamHasLimits(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	simnetEnrich(t, &cfg, nil)    // enrichment's RDAP cache bucket too
	cfg.Inbound.Dir = t.TempDir() // and inbound's dedup bucket
	d := startDaemon(t, cfg)
	want := storageLimits(cfg)
	var seen []string
	for name := range d.js.StreamNames(t.Context()).Name() {
		seen = append(seen, name)
		s, err := d.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		sc := s.CachedInfo().Config
		l, ok := want[name]
		if !ok {
			t.Errorf("stream %s has no entry in the limits table", name)
			continue
		}
		wantDiscard := jetstream.DiscardNew
		if l.DiscardOld {
			wantDiscard = jetstream.DiscardOld
		}
		if sc.MaxBytes != l.MaxBytes || sc.Discard != wantDiscard {
			t.Errorf("%s: max_bytes %d, discard %s; want %d, %s", name, sc.MaxBytes, sc.Discard, l.MaxBytes, wantDiscard)
		}
		if !strings.HasPrefix(name, "KV_") && sc.MaxAge != l.MaxAge {
			t.Errorf("%s: max_age %s, want %s", name, sc.MaxAge, l.MaxAge)
		}
	}
	for name := range want {
		if !slices.Contains(seen, name) {
			t.Errorf("the limits table names %s, which the daemon did not make", name)
		}
	}
	dlq := want[store.DLQStream]
	if !dlq.DiscardOld || dlq.MaxAge != cfg.Storage.MaxAge.DeadLetters {
		t.Errorf("dead letters: %+v, want the oldest dropped and an age", dlq)
	}
	if got, min := d.app.broker.Server.JetStreamConfig().MaxStore, int64(cfg.Storage.MaxBytes.Total()); got < min {
		t.Errorf("embedded store of %d bytes, under the %d the limits add up to", got, min)
	}

	// The storage check reads the streams one after another, in order of
	// name: wait for the first reading of the cases bucket and of the
	// dead letters (which comes later), not for any reading.
	deadline := time.Now().Add(waitBound)
	for {
		m := d.scrape()
		if strings.Contains(m, `takedownd_storage_bytes{stream="KV_takedown_cases"}`) && strings.Contains(m, "\ntakedownd_dead_letters_messages ") {
			for _, want := range []string{
				`takedownd_storage_limit_bytes{stream="TAKEDOWN_EVENTS"} 1.7179869184e+10`,
				`takedownd_dead_letters_limit_bytes 1.073741824e+09`,
				`takedownd_dead_letters_messages 0`,
			} {
				if !strings.Contains(m, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the storage check never reached /metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClosedCasesThroughAPI: a closed case is not in the case index, yet
// GET /v1/cases?state=closed and the unfiltered list find it, and the
// cases gauge counts it.
func TestClosedCasesThroughAPI(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	cfg.Storage.CheckInterval = time.Second
	d := startDaemon(t, cfg)
	st := d.app.Store()
	base := time.Now().Add(-time.Hour)
	var closed, all []string
	for i := range 5 {
		at := base.Add(time.Duration(i) * time.Minute)
		c := takedown.Case{ID: store.CaseID(at, uint64(i+1)), State: takedown.StateReview, ReceivedAt: at}
		if i%2 == 0 {
			c.State = takedown.StateClosed
			closed = append(closed, c.ID)
		}
		all = append(all, c.ID)
		if _, err := st.CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(path string) []string {
		var list api.CaseList
		if code := d.get(path, testToken, &list); code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
		var out []string
		for _, c := range list.Cases {
			out = append(out, c.ID)
		}
		return out
	}
	deadline := time.Now().Add(waitBound)
	for {
		gotClosed, gotAll, gotReview := ids("/v1/cases?state=closed"), ids("/v1/cases"), ids("/v1/cases?state=review")
		m := d.scrape()
		if slices.Equal(gotClosed, closed) && slices.Equal(gotAll, all) && len(gotReview) == 2 &&
			strings.Contains(m, `takedownd_cases{state="closed"} 3`) && strings.Contains(m, `takedownd_cases{state="review"} 2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closed %v (want %v), all %v (want %v), review %v; metrics:\n%s", gotClosed, closed, gotAll, all, gotReview, grepLines(m, "takedownd_cases"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestWarnsWhenTheDiskIsSmallerThanTheLimits: limits the disk cannot hold
// are said at start; limits it can hold are not.
func TestWarnsWhenTheDiskIsSmallerThanTheLimits(t *testing.T) {
	t.Parallel()
	if _, ok := freeBytes(t.TempDir()); !ok {
		t.Skip("free space is not known on this system")
	}
	tests := []struct {
		name   string
		events config.ByteSize
		want   bool
	}{
		{"an exabyte of events", 1 << 60, true},
		{"the defaults, mostly", 1 << 20, false},
	}
	for _, tc := range tests {
		cfg := config.Default()
		cfg.Storage.MaxBytes = config.StorageSizes{Events: tc.events}
		var buf strings.Builder
		warnDiskSmallerThanLimits(slog.New(slog.NewTextHandler(&buf, nil)), t.TempDir(), cfg, 0)
		if got := strings.Contains(buf.String(), "the disk has less room than the storage limits allow"); got != tc.want {
			t.Errorf("%s: warned %v, want %v: %s", tc.name, got, tc.want, buf.String())
		}
	}
}
