package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

var errSealed = errors.New("notice no longer open")

// contactKey names the open batch of one recipient for one kind of notice.
func contactKey(rec Record) string {
	sum := sha256.Sum256([]byte(strings.ToLower(rec.Channel + "|" + rec.To + "|" + rec.Kind + "|" + rec.Level)))
	return hex.EncodeToString(sum[:16])
}

// addToBatch puts a case into the open notice for the recipient of tmpl,
// opening one when there is none (or it is sealed or full). A high-priority
// case gets a notice of its own, due at once. It returns the notice's
// reference; whoever creates a notice schedules its flush.
func (s *Stage) addToBatch(ctx context.Context, tmpl Record, caseID string, high bool) (string, error) {
	now := s.now().UTC()
	tmpl.State, tmpl.OpenedAt, tmpl.Cases = StateOpen, now, []string{caseID}
	if high {
		tmpl.Ref, tmpl.Priority, tmpl.DueAt = newRef(now), true, s.window.next(now, true)
		if err := s.rec.create(ctx, tmpl); err != nil {
			return "", err
		}
		return tmpl.Ref, s.scheduleFlush(ctx, tmpl.Ref)
	}
	tmpl.DueAt = s.window.next(now.Add(s.cfg.BatchWindow), false)
	key := contactKey(tmpl)
	for range 20 {
		ref, rev, err := s.batchRef(ctx, key)
		if err != nil {
			return "", err
		}
		_, err = s.rec.update(ctx, ref, func(r *Record) error {
			switch {
			case slices.Contains(r.Cases, caseID):
				return errUnchanged
			case r.State != StateOpen || len(r.Cases) >= s.cfg.MaxURLs:
				return errSealed
			}
			r.Cases = append(r.Cases, caseID)
			return nil
		})
		switch {
		case err == nil, errors.Is(err, errUnchanged):
			return ref, nil
		case errors.Is(err, errNoRecord):
			// The pointer is ours (or its creator died before writing the
			// record): write the record under that reference.
			rec := tmpl
			rec.Ref = ref
			if err := s.rec.create(ctx, rec); err != nil {
				if errors.Is(err, jetstream.ErrKeyExists) {
					continue
				}
				return "", err
			}
			return ref, s.scheduleFlush(ctx, ref)
		case errors.Is(err, errSealed):
			// Start the next batch for this recipient.
			if _, err := s.rec.batches.Update(ctx, key, []byte(newRef(now)), rev); err != nil && !isConflict(err) {
				return "", fmt.Errorf("open next batch: %w", err)
			}
		default:
			return "", err
		}
	}
	return "", fmt.Errorf("add case %s to a batch: too many conflicts", caseID)
}

// batchRef returns the reference of the recipient's current batch,
// creating the pointer when there is none.
func (s *Stage) batchRef(ctx context.Context, key string) (string, uint64, error) {
	for range 5 {
		e, err := s.rec.batches.Get(ctx, key)
		if err == nil {
			return string(e.Value()), e.Revision(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", 0, fmt.Errorf("get batch: %w", err)
		}
		ref := newRef(s.now())
		rev, err := s.rec.batches.Create(ctx, key, []byte(ref))
		if err == nil {
			return ref, rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", 0, fmt.Errorf("open batch: %w", err)
		}
	}
	return "", 0, errors.New("open batch: pointer kept changing")
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || (errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

func (s *Stage) scheduleFlush(ctx context.Context, ref string) error {
	return s.store.Enqueue(ctx, stageFlush, ref, "flush-"+ref, nil)
}
