package stats

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// snapshotCases are cases of every shape a summary keeps.
func snapshotCases() []*takedown.Case {
	var out []*takedown.Case
	for i := range 40 {
		c := noticed(i, []string{"abuse@nl.example.com", "abuse@other.net", "reports@partner.example"}[i%3], uint(64500+i%4), []string{"", "", "DE"}[i%3])
		c.URL = "http://site.example/" + string(rune('a'+i%7))
		c.Enrichment.Country.Country = []string{"NL", "DE", ""}[i%3]
		c.Enrichment.Addresses[0].Network, c.Enrichment.Addresses[0].ASName = "NET-"+string(rune('A'+i%3)), "AS NAME"
		if i%5 == 0 {
			c.Checks = &takedown.CheckState{FirstRemovedAt: c.ReceivedAt.Add(time.Duration(i) * time.Hour), Reopened: i % 3}
			c.State = takedown.StateClosed
		}
		if i%4 == 0 {
			c.Routing.Failing = []string{"Abuse@Old.example"}
		}
		if i%10 == 0 {
			c.Anonymised = &takedown.Anonymised{URLHash: "00112233445566778899", Hoster: "example.com", Audiences: c.Audiences(), FailingContacts: []string{"aabb"}}
		}
		out = append(out, c)
	}
	return out
}

// recordingWatcher plays cases, remembers where each run was asked to
// start, and names a bucket.
type recordingWatcher struct {
	cases   []*takedown.Case
	bucket  store.BucketState
	froms   chan uint64
	stopped chan struct{}
}

func (w *recordingWatcher) CasesBucket(context.Context) (store.BucketState, error) {
	return w.bucket, nil
}

func (w *recordingWatcher) WatchCases(ctx context.Context, from uint64, f store.CaseFeed) error {
	if from == 0 {
		for i, c := range w.cases {
			f.Put(uint64(i+1), c)
		}
	}
	f.Loaded()
	w.froms <- from
	<-ctx.Done()
	return nil
}

func startRecording(t *testing.T, w *recordingWatcher, opts Options) (*Aggregate, uint64, func()) {
	t.Helper()
	a := New(w, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	from := <-w.froms
	return a, from, func() { cancel(); <-done }
}

func figuresJSON(t *testing.T, a *Aggregate) string {
	t.Helper()
	s, err := a.Stats(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Hosters(HosterQuery{Sort: "id", Order: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	scoped, err := a.Stats(Filter{Audiences: []string{takedown.AudienceDomain("example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{s, h, scoped})
	return string(b)
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "stats-snapshot")
	h := NewURLHasher([]byte("snapshot-test-secret-0123456789abcdef"))
	bucket := store.BucketState{Created: t0, LastRevision: 100}
	opts := Options{HotlineCountry: "NL", Hasher: h, SnapshotPath: path, SnapshotEvery: time.Hour, Now: func() time.Time { return t0.Add(48 * time.Hour) }}
	w := &recordingWatcher{cases: snapshotCases(), bucket: bucket, froms: make(chan uint64, 4)}
	a, from, stop := startRecording(t, w, opts)
	if from != 0 {
		t.Fatalf("first start from %d, want a whole load", from)
	}
	want := figuresJSON(t, a)
	stop() // writes the snapshot
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot %v, %v; want a file readable by the owner only", fi, err)
	}

	tests := []struct {
		name     string
		change   func(o *Options, w *recordingWatcher)
		wantFrom uint64
	}{
		{"resumed after its revision", func(*Options, *recordingWatcher) {}, 41},
		{"another hotline country", func(o *Options, _ *recordingWatcher) { o.HotlineCountry = "DE" }, 0},
		{"another secret", func(o *Options, _ *recordingWatcher) {
			o.Hasher = NewURLHasher([]byte("another-secret-0123456789abcdefghij"))
		}, 0},
		{"a bucket made anew", func(_ *Options, w *recordingWatcher) { w.bucket.Created = t0.Add(time.Hour) }, 0},
		{"a bucket behind the snapshot", func(_ *Options, w *recordingWatcher) { w.bucket.LastRevision = 10 }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.SnapshotPath = filepath.Join(t.TempDir(), "copy")
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(o.SnapshotPath, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			w2 := &recordingWatcher{cases: snapshotCases(), bucket: bucket, froms: make(chan uint64, 4)}
			tt.change(&o, w2)
			b, from, stop := startRecording(t, w2, o)
			defer stop()
			if from != tt.wantFrom {
				t.Fatalf("started from %d, want %d", from, tt.wantFrom)
			}
			if got := figuresJSON(t, b); tt.wantFrom != 0 && got != want {
				t.Errorf("figures from the snapshot differ:\n got %s\nwant %s", got, want)
			}
		})
	}

	// A damaged snapshot is not used.
	raw, _ := os.ReadFile(path)
	raw[len(raw)/2] ^= 0xFF
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts
	o.SnapshotPath = damaged
	w3 := &recordingWatcher{cases: snapshotCases(), bucket: bucket, froms: make(chan uint64, 4)}
	c, from, stop3 := startRecording(t, w3, o)
	defer stop3()
	if from != 0 || figuresJSON(t, c) != want {
		t.Errorf("damaged snapshot: started from %d", from)
	}
	if _, err := readSnapshot(damaged, c.fingerprint()); err == nil {
		t.Error("a damaged snapshot read without an error")
	}
}
