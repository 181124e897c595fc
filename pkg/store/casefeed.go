package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// CaseFeed receives the cases bucket from WatchCases: every case it holds,
// then Loaded, then every change as it happens. Calls come from one
// goroutine, in the bucket's order.
type CaseFeed interface {
	// Put is a case as written at revision rev.
	Put(rev uint64, c *takedown.Case)
	// Delete is a case deleted or purged at revision rev.
	Delete(rev uint64, id string)
	// Loaded says that every case the bucket held when the watch began
	// has been delivered (pending is 0 from then on).
	Loaded()
}

// WatchCases feeds f from a watch of the cases bucket until ctx ends
// (then it returns nil); it returns an error when the watch ends while
// ctx lasts, so that the caller's supervisor starts it again, and a
// fresh run delivers the whole bucket again. Records this version cannot
// decode are skipped. Each replica runs its own watch: it reads what its
// NATS server holds, and may lag the leader by milliseconds.
func (s *Store) WatchCases(ctx context.Context, f CaseFeed) error {
	w, err := s.cases.WatchAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("watch cases: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case entry, open := <-w.Updates():
			if !open {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the watch of " + CasesBucket + " ended")
			}
			e = entry
		}
		switch {
		case e == nil:
			f.Loaded()
		case !ValidCaseID(e.Key()):
		case e.Operation() != jetstream.KeyValuePut:
			f.Delete(e.Revision(), e.Key())
		default:
			var c takedown.Case
			if err := json.Unmarshal(e.Value(), &c); err != nil || c.ID != e.Key() {
				continue
			}
			f.Put(e.Revision(), &c)
		}
	}
}

// CaseCount is how many entries the cases bucket holds (a hint for
// sizing what mirrors it; deletions that are still markers count).
func (s *Store) CaseCount(ctx context.Context) (uint64, error) {
	st, err := s.cases.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("status of %s: %w", CasesBucket, err)
	}
	return st.Values(), nil
}
