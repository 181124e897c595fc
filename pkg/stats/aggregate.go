// Package stats keeps the figures a hotline's annual report asks for —
// how many cases, where they were hosted, how fast notices went out and
// the material came down, which hosters are slow — from a compact summary
// of every case (about 90 bytes) held in memory by each replica and fed
// by a watch on the cases bucket. A request filters and counts those
// summaries; it never reads the bucket.
package stats

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Watcher delivers the cases bucket (store.Store is one).
type Watcher interface {
	// WatchCases delivers the bucket from revision from on (the whole
	// bucket when 0), then its changes.
	WatchCases(ctx context.Context, from uint64, f store.CaseFeed) error
	// CasesBucket says which bucket it is and how far it has come.
	CasesBucket(ctx context.Context) (store.BucketState, error)
}

// Options configure an Aggregate.
type Options struct {
	// HotlineCountry is the hotline's own country: cases hosted there are
	// hosted domestically.
	HotlineCountry string
	// Hasher hashes URLs with the retention secret, so that a URL reported
	// again joins its earlier cases, anonymised or not; nil counts no
	// repeated URLs.
	Hasher *URLHasher
	// SnapshotPath is where the summaries are written every SnapshotEvery
	// and at the stop, and read at the start (snapshot.go); "" or a zero
	// SnapshotEvery writes none.
	SnapshotPath  string
	SnapshotEvery time.Duration
	Now           func() time.Time
	Log           *slog.Logger
}

// Aggregate is the in-memory summary of every case. Run keeps it up to
// date; Stats, Hosters and Hoster read it.
type Aggregate struct {
	opts    Options
	watcher Watcher

	mu  sync.RWMutex
	cur *table // nil until the first load completes
	// curRev is the revision of the bucket cur is at: a snapshot of cur
	// resumes the watch after it. created names the bucket (its stream's
	// creation time).
	curRev  uint64
	created time.Time
	// loading is the table the running watch fills until Loaded; only
	// the watch's goroutine touches it.
	loading *table
	// loadedIn is how long the last load took.
	loadedIn time.Duration
	// written is the revision of the last snapshot written; from the
	// revision the last run started from (0: a whole load).
	written atomic.Uint64
	from    atomic.Uint64
	// bufs are the requests' scratch slices.
	bufs bufferPool
}

// change is one case written (f set) or deleted.
type change struct {
	key caseKey
	f   *facts
}

// New returns an empty aggregate fed by w once Run runs.
func New(w Watcher, opts Options) *Aggregate {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.HotlineCountry = strings.ToUpper(opts.HotlineCountry)
	return &Aggregate{opts: opts, watcher: w}
}

// Run keeps the aggregate up to date until ctx ends. The first run
// starts from the snapshot when there is one that fits, answering from it
// at once and following the bucket from the revision after it; otherwise
// it loads the whole bucket into a fresh table, swapped in once complete.
// A later run (after the watch failed) resumes after the revision the
// table is at. It returns an error when the watch ends while ctx lasts.
func (a *Aggregate) Run(ctx context.Context) error {
	started := a.opts.Now()
	bs, err := a.watcher.CasesBucket(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.mu.Lock()
	from, have := a.curRev+1, a.cur != nil
	if have && !bs.Created.Equal(a.created) {
		from = 0 // the bucket was made anew: load it whole
	}
	a.created = bs.Created
	a.mu.Unlock()
	if !have {
		from = a.resume(bs)
	}
	a.from.Store(from)
	f := &feed{a: a, started: started, loaded: from > 0}
	if from == 0 {
		a.loading = newTable()
	}
	if a.opts.SnapshotPath != "" && a.opts.SnapshotEvery > 0 {
		done := make(chan struct{})
		defer func() {
			close(done)
			a.snapshotNow() // at the stop: the next start has little to catch up
		}()
		go a.snapshotLoop(done)
	}
	return a.watcher.WatchCases(ctx, from, f)
}

// resume installs the snapshot if there is one that fits the bucket, and
// returns the revision to watch from (0: load the whole bucket).
func (a *Aggregate) resume(bs store.BucketState) uint64 {
	if a.opts.SnapshotPath == "" {
		return 0
	}
	s, err := readSnapshot(a.opts.SnapshotPath, a.fingerprint())
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err == nil && (!bs.Created.Equal(s.created) || s.rev > bs.LastRevision) {
		err = fmt.Errorf("statistics snapshot: %w (of another bucket, or ahead of it)", errStaleSnapshot)
	}
	if err != nil {
		a.opts.Log.Warn("statistics snapshot not used, loading the whole bucket", "err", err)
		return 0
	}
	a.mu.Lock()
	a.cur, a.curRev = s.t, s.rev
	a.mu.Unlock()
	a.written.Store(s.rev)
	a.opts.Log.Info("statistics read from the snapshot, catching up", "cases", len(s.t.entries), "revision", s.rev)
	return s.rev + 1
}

func (a *Aggregate) snapshotLoop(done chan struct{}) {
	t := time.NewTicker(a.opts.SnapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			a.snapshotNow()
		}
	}
}

// snapshotNow writes the snapshot when the table moved since the last.
func (a *Aggregate) snapshotNow() {
	a.mu.RLock()
	if a.cur == nil || a.curRev == a.written.Load() {
		a.mu.RUnlock()
		return
	}
	s := snapshot{rev: a.curRev, created: a.created, print: a.fingerprint(), t: a.cur.copyTable()}
	a.mu.RUnlock()
	if err := writeSnapshot(a.opts.SnapshotPath, s); err != nil {
		a.opts.Log.Warn("write statistics snapshot", "err", err)
		return
	}
	a.written.Store(s.rev)
}

// StartedFrom is the revision the last run started from: 0 when it loaded
// the whole bucket, else the one after its snapshot's (or the table's).
func (a *Aggregate) StartedFrom() uint64 { return a.from.Load() }

// Loaded reports whether the aggregate has loaded the bucket once.
func (a *Aggregate) Loaded() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cur != nil
}

// Size is how many cases the aggregate holds.
func (a *Aggregate) Size() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.cur == nil {
		return 0
	}
	return len(a.cur.entries)
}

// LoadTime is how long the last complete load of the bucket took.
func (a *Aggregate) LoadTime() time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.loadedIn
}

// feed is the store.CaseFeed of one run.
type feed struct {
	a       *Aggregate
	started time.Time
	// loaded: the changes go to the current table (after a full load, or
	// from the start when the run resumes); maxRev is the highest
	// revision a full load saw.
	loaded bool
	maxRev uint64
}

func (f *feed) Put(rev uint64, c *takedown.Case) {
	facts, ok := factsOf(c, f.a.opts.HotlineCountry, f.a.opts.Hasher)
	if !ok {
		return
	}
	f.apply(rev, change{key: facts.key, f: &facts})
}

// Same moves the table's revision on; the case's facts stand.
func (f *feed) Same(rev uint64, _ string) {
	a := f.a
	if !f.loaded {
		f.maxRev = max(f.maxRev, rev)
		return
	}
	a.mu.Lock()
	a.curRev = max(a.curRev, rev)
	a.mu.Unlock()
}

func (f *feed) Delete(rev uint64, id string) {
	if k, ok := keyOf(id); ok {
		f.apply(rev, change{key: k})
	}
}

func (f *feed) apply(rev uint64, ch change) {
	a := f.a
	if !f.loaded {
		// While loading, cases arrive in no set order, each once; a case
		// changed meanwhile comes again, with a higher revision.
		t := a.loading
		if ch.f == nil {
			t.entries = append(t.entries, entry{key: ch.key, state: tombstone})
		} else {
			t.entries = append(t.entries, t.entryOf(*ch.f, a.opts.HotlineCountry))
		}
		t.revs = append(t.revs, rev)
		f.maxRev = max(f.maxRev, rev)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.curRev = max(a.curRev, rev)
	if ch.f == nil {
		a.cur.remove(ch.key)
		return
	}
	a.cur.put(*ch.f, a.opts.HotlineCountry)
}

func (f *feed) Loaded() {
	a := f.a
	if f.loaded {
		a.opts.Log.Info("statistics caught up", "took", a.opts.Now().Sub(f.started).Round(time.Millisecond))
		return
	}
	f.loaded = true
	t := a.loading
	t.finishLoading()
	a.loading = nil
	a.mu.Lock()
	a.cur, a.curRev = t, f.maxRev
	a.loadedIn = a.opts.Now().Sub(f.started)
	a.mu.Unlock()
	a.opts.Log.Info("statistics loaded", "cases", len(t.entries), "took", a.loadedIn.Round(time.Millisecond))
}
