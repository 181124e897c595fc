package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// maxNak bounds one wait of a flush message; a longer batching window or
// send window is waited out in several steps.
const maxNak = time.Hour

// handleFlush sends a notice when its window has passed. The notice moves
// open → sealing → sending (items fixed, recorded on every case) → sent or
// failed; a redelivery resumes where the last attempt stopped. Each step
// goes on from the record its own compare-and-set returned (or, when it
// changed nothing, read from the stream leader), never from a fresh read
// that a lagging replica could answer with the state before the step.
func (s *Stage) handleFlush(ctx context.Context, msg jetstream.Msg) {
	ref := store.CaseOfWork(msg.Subject())
	rec, _, err := s.rec.notices.Get(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		_ = msg.TermWithReason("notice not found")
		return
	}
	if err != nil {
		_ = msg.NakWithDelay(s.backoff(1))
		return
	}
	if rec.State == takedown.NoticeOpen || rec.State == takedown.NoticeSealing {
		if wait := rec.DueAt.Sub(s.now()); wait > 0 && rec.State == takedown.NoticeOpen {
			_ = msg.NakWithDelay(min(wait, maxNak))
			return
		}
		if id, err := s.followUpPaused(ctx, rec); err != nil && rec.State == takedown.NoticeOpen {
			if !s.hold(ctx, msg, id, err) {
				_ = msg.NakWithDelay(s.backoff(1))
			}
			return
		}
		if rec, err = s.seal(ctx, rec.Ref); err != nil {
			s.log.Warn("seal notice, will retry", "notice", ref, "err", err)
			_ = msg.NakWithDelay(s.backoff(1))
			return
		}
	}
	if rec.State == takedown.NoticeSending {
		var retryIn time.Duration
		rec, retryIn, err = s.deliver(ctx, rec)
		if err != nil {
			s.log.Warn("deliver notice, will retry", "notice", ref, "err", err)
			_ = msg.NakWithDelay(s.backoff(1))
			return
		}
		if retryIn > 0 {
			_ = msg.NakWithDelay(retryIn)
			return
		}
	}
	if err := s.recordOutcome(ctx, rec); err != nil {
		s.log.Warn("record notice outcome, will retry", "notice", ref, "err", err)
		_ = msg.NakWithDelay(s.backoff(1))
		return
	}
	_ = msg.Ack()
}

// seal fixes the notice's URLs. Cases that closed or whose contact changed
// are dropped, and so is a case that already had its first notice to this
// recipient; on every other case the notice is recorded before anything is
// sent, so a crash after sending cannot lead to a second, different notice.
func (s *Stage) seal(ctx context.Context, ref string) (takedown.Notice, error) {
	// First close the notice to new URLs, so the list worked on below is
	// the list that is sent: a URL added meanwhile opens the next batch.
	e, err := s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
		if r.State != takedown.NoticeOpen {
			return store.ErrNoChange
		}
		r.State = takedown.NoticeSealing
		return nil
	})
	rec := e.Value
	if err != nil || rec.State != takedown.NoticeSealing {
		return rec, err
	}
	now := s.now().UTC()
	sentAt := now
	kept := make([]*takedown.Case, len(rec.Cases))
	err = forEachCase(ctx, rec.Cases, func(ctx context.Context, i int, id string) error {
		ref := takedown.NoticeRef{Ref: rec.Ref, Kind: rec.Kind, Level: rec.Level, Channel: rec.Channel, To: rec.To, Partner: rec.Partner, At: sentAt, Outcome: "sending"}
		var keep bool
		c, err := s.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
			keep = false
			switch {
			case slices.ContainsFunc(c.Notices, func(n takedown.NoticeRef) bool { return n.Ref == rec.Ref }):
				keep = true
				return nil, store.ErrNoChange
			case !c.State.Open() || c.State == takedown.StateRemoved:
				return nil, store.ErrNoChange
			case rec.Kind == string(notice.KindFirst) || rec.Kind == string(notice.KindForward):
				// A paused case waits for its own routing (pause.go).
				if !rec.StillRoutedTo(*c) || alreadyNoticed(*c, rec) || c.NoticesPaused(now) {
					return nil, store.ErrNoChange
				}
			}
			keep = true
			c.Notices = append(c.Notices, ref)
			return nil, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if keep {
			kept[i] = &c
		}
		return nil
	})
	if err != nil {
		return rec, err
	}
	var items []takedown.NoticeItem
	var dropped []string
	for i, c := range kept {
		if c == nil {
			dropped = append(dropped, rec.Cases[i])
			continue
		}
		items = append(items, itemOf(*c, rec))
	}
	sealed, err := s.rec.notices.Update(ctx, rec.Ref, func(r *takedown.Notice) error {
		if r.State != takedown.NoticeSealing {
			return store.ErrNoChange
		}
		r.Items, r.Dropped, r.SentAt = items, dropped, sentAt
		r.State = takedown.NoticeSending
		if len(items) == 0 {
			r.State, r.Outcome, r.DoneAt = takedown.NoticeDropped, "every URL closed or moved before sending", now
		}
		deadline := s.cfg.Deadline
		if r.Level == string(notice.LevelAuthority) && s.cfg.Authority.Deadline > 0 {
			deadline = s.cfg.Authority.Deadline
		}
		r.DeadlineAt = sentAt.Add(deadline)
		if r.Channel == "email" {
			r.MessageID = notice.MessageID(r.Ref, s.messageIDDomain())
		}
		return nil
	})
	return sealed.Value, err
}

// caseParallelism bounds the concurrent case updates of one notice: they
// touch different keys, so they need not wait for each other, and a notice
// of a hundred URLs would otherwise cost two hundred round trips in a row.
const caseParallelism = 32

// forEachCase runs fn for every case of a notice, concurrently, and
// returns the first error.
func forEachCase(ctx context.Context, ids []string, fn func(ctx context.Context, i int, id string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(caseParallelism)
	for i, id := range ids {
		g.Go(func() error { return fn(ctx, i, id) })
	}
	return g.Wait()
}

func alreadyNoticed(c takedown.Case, rec takedown.Notice) bool {
	return slices.ContainsFunc(c.Notices, func(n takedown.NoticeRef) bool {
		return n.Ref != rec.Ref && n.Kind == rec.Kind && strings.EqualFold(n.To, rec.To) && n.Outcome != "failed"
	})
}

func itemOf(c takedown.Case, rec takedown.Notice) takedown.NoticeItem {
	it := takedown.NoticeItem{
		CaseID: c.ID, URL: c.URL, ConfirmedAt: c.FirstConfirmedAt(), Classification: string(c.Classification),
		Hashes: c.Hashes, Reappeared: rec.Kind == string(notice.KindReappeared),
	}
	for _, r := range c.Reports {
		it.ReportIDs = append(it.ReportIDs, r.ReportID)
		if it.MediaType == "" {
			it.MediaType = r.MediaType
		}
	}
	if c.Enrichment != nil {
		for _, a := range c.Enrichment.Addresses {
			it.IPs = append(it.IPs, a.IP)
		}
	}
	for _, n := range c.Notices {
		if n.Kind == string(notice.KindFirst) && n.Outcome == "sent" {
			it.FirstNoticedAt = n.At
			break
		}
	}
	return it
}

// noticeOf turns a sealed record into what the renderer needs.
func (s *Stage) noticeOf(rec takedown.Notice) notice.Notice {
	n := notice.Notice{
		Ref: rec.Ref, Kind: notice.Kind(rec.Kind), Lang: rec.Lang, Level: notice.Level(rec.Level), Format: notice.Format(rec.Format),
		From: s.cfg.From, To: []string{rec.To}, Hotline: s.hotline, DeadlineAt: rec.DeadlineAt,
		SentAt: rec.SentAt, Reminder: rec.Reminder, PrevRef: rec.PrevRef,
	}
	if rec.Channel != "email" {
		n.To = []string{s.cfg.From} // a forward's body names the partner; the address field is ours
	}
	for _, it := range rec.Items {
		n.Items = append(n.Items, notice.Item{
			CaseID: it.CaseID, URL: it.URL, IPs: it.IPs, ConfirmedAt: it.ConfirmedAt,
			Classification: it.Classification, MediaType: it.MediaType,
			Hashes:    notice.Hashes{MD5: it.Hashes.MD5, SHA1: it.Hashes.SHA1, SHA256: it.Hashes.SHA256},
			ReportIDs: it.ReportIDs, FirstNoticedAt: it.FirstNoticedAt, Reappeared: it.Reappeared,
		})
	}
	return n
}

func (s *Stage) messageIDDomain() string {
	if _, domain, ok := strings.Cut(s.cfg.From, "@"); ok && domain != "" {
		return domain
	}
	return "takedownd.invalid"
}
