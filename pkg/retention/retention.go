// Package retention anonymises closed cases once they are old enough: the
// URL is replaced by a keyed hash, addresses and contacts are dropped from
// the case, from its notices and from its timeline (whose events are
// replaced by redacted copies and erased), and the timings stay, so that
// the statistics come out the same before and after.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// actor is the name retention's events carry.
const actor = "retention"

// Candidates finds the cases that are due (stats.Aggregate does, from
// memory): closed, not yet fully anonymised, and either last changed
// before `before` or left half-done by a stop.
type Candidates interface {
	Due(before time.Time, n int) []string
}

// Options configure retention.
type Options struct {
	// AnonymiseAfter is how long after its last change a closed case is
	// anonymised.
	AnonymiseAfter time.Duration
	// Every is the wait between two sweeps; Batch bounds one sweep.
	Every time.Duration
	Batch int
	// Hasher is the keyed hash of URLs and addresses (the retention
	// secret), the one the statistics join on.
	Hasher *stats.URLHasher
	// Notices is the notices bucket (nil: notices are left alone).
	Notices *store.Bucket[takedown.Notice]
	Now     func() time.Time
	Log     *slog.Logger
}

// Retention anonymises due cases, a batch every Options.Every.
type Retention struct {
	st   *store.Store
	due  Candidates
	opts Options
}

// New returns retention over st, finding due cases with due.
func New(st *store.Store, due Candidates, opts Options) *Retention {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Retention{st: st, due: due, opts: opts}
}

// Run sweeps until ctx ends, the first time after a random part of
// Every: replicas that started together do not sweep in step (each step
// is safe to run twice, but once is enough, and a replica finds in its
// statistics the cases another finished). A case that cannot be
// anonymised now (NATS away, the trail read lagging) is logged and tried
// again at the next sweep; that is no reason to stop the part.
func (r *Retention) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(rand.N(r.opts.Every)):
	}
	for {
		n, err := r.Sweep(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.opts.Log.Warn("anonymise closed cases, retrying at the next sweep", "anonymised", n, "err", err)
		} else if n > 0 {
			r.opts.Log.Info("anonymised closed cases", "cases", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.opts.Every):
		}
	}
}

// Sweep anonymises up to Batch due cases and returns how many it did.
func (r *Retention) Sweep(ctx context.Context) (int, error) {
	ids := r.due.Due(r.opts.Now().Add(-r.opts.AnonymiseAfter), r.opts.Batch)
	var errs []error
	done := 0
	for _, id := range ids {
		ok, err := r.Anonymise(ctx, id)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

// Anonymise anonymises one case if it is due, and finishes an
// anonymisation a stop left half-done. Every step may run again: the URL
// index entry goes first (its key needs the URL), then the case changes
// with its anonymised event, then its notices and its trail, and last the
// case is marked complete. It reports whether the case is now complete.
func (r *Retention) Anonymise(ctx context.Context, id string) (bool, error) {
	now := r.opts.Now().UTC()
	c, _, err := r.st.GetCase(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if c.State != takedown.StateClosed || (c.Anonymised != nil && c.Anonymised.TimelineRedacted) {
		return false, nil
	}
	if c.Anonymised == nil {
		if now.Sub(stats.LastChange(&c)) < r.opts.AnonymiseAfter {
			return false, nil
		}
		if c.URL != "" {
			if err := r.st.ReleaseURL(ctx, urlnorm.KeyOf(c.URL), id); err != nil {
				return false, err
			}
		}
		if c, err = r.st.Update(ctx, id, r.anonymiseCase(now)); err != nil && !errors.Is(err, store.ErrNoChange) {
			return false, fmt.Errorf("anonymise case %s: %w", id, err)
		}
	}
	if err := r.anonymiseNotices(ctx, c); err != nil {
		return false, err
	}
	n, err := r.st.RedactTimeline(ctx, id, func(ev takedown.Event, raw []byte) (takedown.Event, bool) {
		return redactEvent(ev, raw, r.opts.Hasher, now)
	})
	if err != nil {
		return false, err
	}
	_, err = r.st.Update(ctx, id, r.completeCase(n, now))
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return false, fmt.Errorf("complete anonymisation of case %s: %w", id, err)
	}
	r.opts.Log.Debug("case anonymised", "case_id", id, "events", n)
	return true, nil
}

// anonymiseCase anonymises the case record. Its event waits for
// completeCase, so that on the trail it follows the copies it speaks of.
func (r *Retention) anonymiseCase(now time.Time) store.UpdateFunc {
	return func(c *takedown.Case) ([]takedown.Event, error) {
		if c.Anonymised != nil || c.State != takedown.StateClosed {
			return nil, store.ErrNoChange
		}
		anonymise(c, r.opts.Hasher, now)
		return nil, nil
	}
}

// anonymisedData is the data of the anonymised event.
type anonymisedData struct {
	URLHash string `json:"url_hash"`
	Hoster  string `json:"hoster"`
	After   string `json:"after"`
	// Events is how many events were replaced by redacted copies: each
	// names the sequence of the original it replaces.
	Events int `json:"events"`
}

// completeCase marks the anonymisation complete, with its event.
func (r *Retention) completeCase(events int, now time.Time) store.UpdateFunc {
	return func(c *takedown.Case) ([]takedown.Event, error) {
		if c.Anonymised == nil || c.Anonymised.TimelineRedacted {
			return nil, store.ErrNoChange
		}
		c.Anonymised.Events, c.Anonymised.TimelineRedacted = events, true
		ev := takedown.Event{
			ID: "anonymised-" + c.ID, CaseID: c.ID, Type: takedown.EventAnonymised, At: now, Actor: actor,
			From: c.State, To: c.State,
			Reason: fmt.Sprintf("closed for over %s: URL replaced by its keyed hash, addresses and contacts dropped, %d events redacted", r.opts.AnonymiseAfter, events),
		}.WithData(anonymisedData{URLHash: c.Anonymised.URLHash, Hoster: c.Anonymised.Hoster, After: r.opts.AnonymiseAfter.String(), Events: events})
		return []takedown.Event{ev}, nil
	}
}

// anonymiseNotices drops the case's URL and addresses from each notice
// record that names it.
func (r *Retention) anonymiseNotices(ctx context.Context, c takedown.Case) error {
	if r.opts.Notices == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, ref := range c.Notices {
		if seen[ref.Ref] {
			continue
		}
		seen[ref.Ref] = true
		_, err := r.opts.Notices.Update(ctx, ref.Ref, func(n *takedown.Notice) error {
			if !anonymiseNotice(n, c.ID) {
				return store.ErrNoChange
			}
			return nil
		})
		if err != nil && !errors.Is(err, store.ErrNoChange) && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("anonymise notice %s of case %s: %w", ref.Ref, c.ID, err)
		}
	}
	return nil
}
