package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// CaseFeed receives the cases bucket from WatchCases: every case it holds,
// then Loaded, then every change as it happens. Calls come from one
// goroutine. Until Loaded they may come out of the bucket's order (the
// cases are decoded on every core): a case written while the load runs
// can come twice, and the higher rev is the newer. From Loaded on they
// come in order.
type CaseFeed interface {
	// Put is a case as written at revision rev.
	Put(rev uint64, c *takedown.Case)
	// Same is a write at revision rev that left the case as its previous
	// write had it: the store dropped the events of the change from the
	// record once they were on the trail (outbox.go).
	Same(rev uint64, id string)
	// Delete is a case deleted or purged at revision rev.
	Delete(rev uint64, id string)
	// Loaded says that every case the bucket held when the watch began
	// has been delivered.
	Loaded()
}

// WatchCases feeds f from a watch of the cases bucket until ctx ends
// (then it returns nil): with from 0 the whole bucket, decoded on every
// core, then Loaded; with from > 0 every change at or after that
// revision, in order (Loaded once it has caught up) — a caller that holds
// the bucket as of from-1 resumes there. It returns an error when the
// watch ends while ctx lasts, so that the caller's supervisor starts it
// again. Records this version cannot decode are skipped. Each replica
// runs its own watch: it reads what its NATS server holds, and may lag
// the leader by milliseconds.
func (s *Store) WatchCases(ctx context.Context, from uint64, f CaseFeed) error {
	var opts []jetstream.WatchOpt
	if from > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(from))
	}
	w, err := s.cases.WatchAll(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("watch cases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	if from == 0 {
		if err := loadCases(ctx, w, f); err != nil || ctx.Err() != nil {
			return err
		}
		f.Loaded()
	}
	// The changes come in order: a write can be told from the one before.
	clears := newClearWatch()
	for {
		e, err := nextEntry(ctx, w)
		if e == nil {
			return err
		}
		if _, marker := e.(endOfLoad); marker {
			f.Loaded()
			continue
		}
		if clears.dropsOutbox(e) {
			if ValidCaseID(e.Key()) {
				f.Same(e.Revision(), e.Key())
			}
			continue
		}
		if c, del, ok := decodeEntry(e); ok && del {
			f.Delete(e.Revision(), e.Key())
		} else if ok {
			f.Put(e.Revision(), c)
		}
	}
}

// loadCases delivers what the watch holds until its end-of-initial-values
// marker, decoding on every core: a million records take one JSON
// decode each, which one core would do several times slower.
func loadCases(ctx context.Context, w jetstream.KeyWatcher, f CaseFeed) error {
	raw := make(chan jetstream.KeyValueEntry, 1024)
	type decoded struct {
		e   jetstream.KeyValueEntry
		c   *takedown.Case
		del bool
	}
	out := make(chan decoded, 1024)
	var readErr error
	go func() {
		defer close(raw)
		for {
			e, err := nextEntry(ctx, w)
			if e == nil {
				readErr = err
				return
			}
			if _, marker := e.(endOfLoad); marker {
				return
			}
			raw <- e
		}
	}()
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for e := range raw {
				if c, del, ok := decodeEntry(e); ok {
					out <- decoded{e, c, del}
				}
			}
		})
	}
	go func() {
		workers.Wait()
		close(out)
	}()
	for d := range out {
		if d.del {
			f.Delete(d.e.Revision(), d.e.Key())
		} else {
			f.Put(d.e.Revision(), d.c)
		}
	}
	return readErr
}

// endOfLoad stands for the watch's nil marker (every existing value was
// delivered) where an entry is expected.
type endOfLoad struct{ jetstream.KeyValueEntry }

// nextEntry waits for the watch's next entry: endOfLoad for the marker,
// nil when ctx ended (with a nil error) or the watch ended (an error).
func nextEntry(ctx context.Context, w jetstream.KeyWatcher) (jetstream.KeyValueEntry, error) {
	select {
	case <-ctx.Done():
		return nil, nil
	case e, open := <-w.Updates():
		switch {
		case !open && ctx.Err() != nil:
			return nil, nil
		case !open:
			return nil, errors.New("the watch of " + CasesBucket + " ended")
		case e == nil:
			return endOfLoad{}, nil
		}
		return e, nil
	}
}

// decodeEntry reads a case from a watch entry; del for a deletion, false
// for anything that is not a case this version reads.
func decodeEntry(e jetstream.KeyValueEntry) (c *takedown.Case, del, ok bool) {
	if _, marker := e.(endOfLoad); marker || !ValidCaseID(e.Key()) {
		return nil, false, false
	}
	if e.Operation() != jetstream.KeyValuePut {
		return nil, true, true
	}
	c = new(takedown.Case)
	if err := json.Unmarshal(e.Value(), c); err != nil || c.ID != e.Key() {
		return nil, false, false
	}
	return c, false, true
}

// BucketState names a bucket and says how far it has come.
type BucketState struct {
	// Created is when the bucket's stream was created: a bucket made
	// anew under the same name has another.
	Created time.Time
	// LastRevision is the revision of its latest write.
	LastRevision uint64
}

// CasesBucket is the cases bucket's state.
func (s *Store) CasesBucket(ctx context.Context) (BucketState, error) {
	st, err := s.cases.Status(ctx)
	if err != nil {
		return BucketState{}, fmt.Errorf("status of %s: %w", CasesBucket, err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return BucketState{}, fmt.Errorf("status of %s: no stream info", CasesBucket)
	}
	info := bs.StreamInfo()
	return BucketState{Created: info.Created, LastRevision: info.State.LastSeq}, nil
}
