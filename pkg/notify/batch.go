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
//
// The cases of one recipient come in bursts: every case on a network is
// enriched the moment its network's RDAP answer arrives, and routed
// together. Written one by one, each is a compare-and-set on the same
// notice record that the others lose and retry; in a million-report burst
// half the route workers sat in those retries. So the cases this replica
// adds to one recipient's batch at once are written together (joins), in
// one compare-and-set; replicas still meet only through it.
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
	return s.joins.join(contactKey(tmpl), caseID, func(ids []string) (map[string]string, error) {
		return s.addCases(ctx, tmpl, ids)
	})
}

// addCases puts cases into the recipient's open notices, as many into
// each as it takes (notify.max_urls_per_notice), and returns the notice
// each went to. A case already in the open notice stays where it is.
func (s *Stage) addCases(ctx context.Context, tmpl takedown.Notice, ids []string) (map[string]string, error) {
	now := s.now().UTC()
	key := contactKey(tmpl)
	placed := make(map[string]string, len(ids))
	for rest := ids; len(rest) > 0; rest = slices.DeleteFunc(rest, func(id string) bool { return placed[id] != "" }) {
		var ref string
		var took []string
		created := false
		// A conflict is another writer moving the recipient's batch first:
		// it opened the pointer or the record, or sealed the batch.
		err := store.RetryConflicts(ctx, "add cases to a batch", func() error {
			var rev uint64
			var err error
			if ref, rev, err = s.batchRef(ctx, key, now); err != nil {
				return err
			}
			_, err = s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
				took = took[:0]
				added := false
				for _, id := range rest {
					switch {
					case slices.Contains(r.Cases, id):
						took = append(took, id)
					case r.State == takedown.NoticeOpen && len(r.Cases) < s.cfg.MaxURLs:
						r.Cases = append(r.Cases, id)
						took, added = append(took, id), true
					}
				}
				switch {
				case added:
					return nil
				case len(took) > 0:
					return store.ErrNoChange
				}
				return errSealed
			})
			switch {
			case errors.Is(err, store.ErrNotFound):
				// The pointer is ours (or its creator died before writing the
				// record): write the record under that reference.
				rec := tmpl
				rec.Ref, rec.Cases = ref, nil
				took = took[:0]
				rec.Cases = slices.Clone(rest[:min(len(rest), s.cfg.MaxURLs)])
				took = append(took, rec.Cases...)
				if _, err := s.rec.notices.Create(ctx, ref, rec); err != nil {
					return err
				}
				created = true
				return nil
			case errors.Is(err, errSealed):
				// Start the next batch for this recipient, unless another
				// writer did; then try again.
				if _, err := s.rec.batches.Update(ctx, key, []byte(newRef(now)), rev); err != nil && !store.IsConflict(err) {
					return fmt.Errorf("open next batch: %w", err)
				}
				return store.ErrConflict
			}
			return err
		})
		if err != nil {
			return placed, err
		}
		for _, id := range took {
			placed[id] = ref
		}
		if created {
			if err := s.scheduleFlush(ctx, ref); err != nil {
				return placed, err
			}
		}
	}
	return placed, nil
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
