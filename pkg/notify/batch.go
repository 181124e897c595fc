package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

var errSealed = errors.New("notice no longer open")

// contactKey names the open batch of one recipient for one kind of notice.
func contactKey(rec takedown.Notice) string {
	sum := sha256.Sum256([]byte(strings.ToLower(rec.Channel + "|" + rec.To + "|" + rec.Kind + "|" + rec.Level)))
	return hex.EncodeToString(sum[:16])
}

// addToBatch puts a case into the open notice for the recipient of tmpl,
// opening one when there is none (or it is sealed or full). A high-priority
// case gets a notice of its own, due at once, and so does a case whose
// recipient takes one X-ARF mail per URL (ownNotice). It returns the
// notice's reference; whoever creates a notice schedules its flush.
func (s *Stage) addToBatch(ctx context.Context, tmpl takedown.Notice, caseID string, high bool) (string, error) {
	now := s.now().UTC()
	tmpl.State, tmpl.OpenedAt, tmpl.Cases = takedown.NoticeOpen, now, []string{caseID}
	if ownNotice(tmpl, high) {
		tmpl.Ref, tmpl.Priority, tmpl.DueAt = newRef(now), high, s.window.next(now, high)
		if _, err := s.rec.notices.Create(ctx, tmpl.Ref, tmpl); err != nil {
			return "", err
		}
		return tmpl.Ref, s.scheduleFlush(ctx, tmpl.Ref)
	}
	tmpl.DueAt = s.window.next(now.Add(s.cfg.BatchWindow), false)
	key := contactKey(tmpl)
	var ref string
	created := false
	// A conflict is another worker moving the recipient's batch first: it
	// opened the pointer or the record, or sealed the batch.
	err := store.RetryConflicts(ctx, "add case "+caseID+" to a batch", func() error {
		var rev uint64
		var err error
		if ref, rev, err = s.batchRef(ctx, key, now); err != nil {
			return err
		}
		_, err = s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
			switch {
			case slices.Contains(r.Cases, caseID):
				return store.ErrNoChange
			case r.State != takedown.NoticeOpen || len(r.Cases) >= s.cfg.MaxURLs:
				return errSealed
			}
			r.Cases = append(r.Cases, caseID)
			return nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The pointer is ours (or its creator died before writing the
			// record): write the record under that reference.
			rec := tmpl
			rec.Ref = ref
			if _, err := s.rec.notices.Create(ctx, ref, rec); err != nil {
				return err
			}
			created = true
			return nil
		case errors.Is(err, errSealed):
			// Start the next batch for this recipient, unless another
			// worker did; then try again.
			if _, err := s.rec.batches.Update(ctx, key, []byte(newRef(now)), rev); err != nil && !store.IsConflict(err) {
				return fmt.Errorf("open next batch: %w", err)
			}
			return store.ErrConflict
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if created {
		return ref, s.scheduleFlush(ctx, ref)
	}
	return ref, nil
}

// batchRef returns the reference of the recipient's current batch,
// creating the pointer when there is none; a pointer created by another
// worker meanwhile is a conflict.
func (s *Stage) batchRef(ctx context.Context, key string, now time.Time) (string, uint64, error) {
	e, err := s.rec.batches.Get(ctx, key)
	if err == nil {
		return string(e.Value()), e.Revision(), nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, fmt.Errorf("get batch: %w", err)
	}
	ref := newRef(now)
	rev, err := s.rec.batches.Create(ctx, key, []byte(ref))
	if err != nil {
		return "", 0, fmt.Errorf("open batch: %w", err)
	}
	return ref, rev, nil
}

func (s *Stage) scheduleFlush(ctx context.Context, ref string) error {
	return s.store.Enqueue(ctx, stageFlush, ref, "flush-"+ref, nil)
}
