package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// process makes the report part of exactly one case. Every step is safe to
// repeat: a redelivery after a crash at any point converges on the same
// case, the same report list and the same events.
//
// A new report of a new URL takes five requests in four waits: the claims
// of its report id (which also answers "seen before?") and of its URL at
// once, then the opening events, the case, enrichment's unit of work.
func (in *Intake) process(ctx context.Context, rep takedown.Report, nu urlnorm.URL, md *jetstream.MsgMetadata) (string, error) {
	candidate := store.CaseID(md.Timestamp, md.Sequence.Stream)
	urlKey := nu.Key()
	// Most reports are new: the URL is claimed while the report id is, and
	// a claim made for a duplicate is taken back (or, should another report
	// of the URL find it first, taken over: openFor).
	var (
		claim    store.URLClaim
		claimErr error
		claiming sync.WaitGroup
	)
	claiming.Go(func() { claim, claimErr = in.store.ClaimURLFor(ctx, urlKey, candidate) })
	onRecord, err := in.store.ClaimReport(ctx, rep.ReportID, candidate)
	claiming.Wait()
	if err != nil {
		return "", err
	}
	if onRecord != candidate {
		done, err := in.seenBefore(ctx, onRecord)
		if err == nil && done && claimErr == nil && claim.Fresh {
			err = in.store.ReleaseURL(ctx, urlKey, candidate)
		}
		if err != nil || done {
			return onRecord, err
		}
	}
	if claimErr != nil {
		return "", claimErr
	}
	caseID, err := in.joinOrCreate(ctx, rep, nu, candidate, md.Timestamp.UTC(), &claim)
	if err != nil {
		return caseID, err
	}
	if caseID != onRecord {
		// It joined a case of its URL: the record points there.
		if err := in.store.RecordReport(ctx, rep.ReportID, caseID); err != nil {
			return caseID, err
		}
	}
	return caseID, nil
}

// seenBefore decides for a report whose id another message put on record
// for case onRecord. If that case exists, the report is in it (or its
// message, in flight, puts it there): this one is a duplicate. If not, the
// other message may still be on its way, or have given up (its report is
// in the dead letters): this one is processed as new, which converges on
// the other's case if it comes after all (the report joins once).
func (in *Intake) seenBefore(ctx context.Context, onRecord string) (bool, error) {
	_, _, err := in.store.GetCase(ctx, onRecord)
	switch {
	case err == nil:
		in.log.Debug("duplicate report", "case_id", onRecord)
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// joinOrCreate joins the report to its URL's open case or opens one; first
// is the URL's claim already made, used by the first attempt.
func (in *Intake) joinOrCreate(ctx context.Context, rep takedown.Report, nu urlnorm.URL, candidate string, received time.Time, first *store.URLClaim) (string, error) {
	urlKey := nu.Key()
	var caseID string
	// Each conflict is the URL index moving under us: another worker
	// created the holder's case first, or the closed holder was replaced.
	err := store.RetryConflicts(ctx, "join or create case for url "+urlKey, func() error {
		claim, err := in.claimURL(ctx, urlKey, candidate, &first)
		if err != nil {
			return err
		}
		holder := claim.Holder
		var c takedown.Case
		if claim.Fresh {
			// Our claim made the entry, so no case can exist under our id
			// but the one we open now: nothing to read first. (Should one
			// exist after all, the create says so and we come round again.)
			err = store.ErrNotFound
		} else {
			c, _, err = in.store.GetCase(ctx, holder)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The holder claimed the URL but its case is not written yet
			// (in flight on another worker, or lost to a crash). Opening it
			// under the holder's id, as the holder's message would, is
			// what either needs.
			created, err := in.openFor(ctx, claim, candidate, urlKey, rep, nu, received)
			if err != nil {
				return err
			}
			if !created || holder != candidate {
				return store.ErrConflict // join the case: ours is another report
			}
			caseID = holder
			return nil
		case err != nil:
			return err
		case !c.State.Open():
			// The URL's last case is closed: this report starts a new one.
			if _, err := in.store.TakeOverURL(ctx, urlKey, candidate, claim.Rev); err != nil {
				return err
			}
			return store.ErrConflict
		}
		if err := in.join(ctx, holder, rep, nu, received); err != nil {
			return err
		}
		if holder == candidate {
			// A redelivery of the message that created the case: make sure
			// enrichment was asked for (the dedup id keeps it to one).
			if err := in.enqueueEnrich(ctx, holder, c.State); err != nil {
				return err
			}
		}
		caseID = holder
		return nil
	})
	return caseID, err
}

// claimURL claims the URL, or hands out the claim already made (once).
func (in *Intake) claimURL(ctx context.Context, urlKey, candidate string, made **store.URLClaim) (store.URLClaim, error) {
	if c := *made; c != nil {
		*made = nil
		return *c, nil
	}
	return in.store.ClaimURLFor(ctx, urlKey, candidate)
}

// openFor opens the case the URL's claim names. When the claim is another
// message's (the holder's case is not written yet), the case is opened
// from the holder's own report, read back from the report stream: then it
// is the case the holder's worker opens, with the same first report and
// the same opening events, whichever of the two writes first. Only when
// that report is gone does ours open it. A claim its holder made for a
// duplicate report (taken back a moment later) is taken over instead:
// that report is in its case already.
func (in *Intake) openFor(ctx context.Context, claim store.URLClaim, candidate, urlKey string, rep takedown.Report, nu urlnorm.URL, received time.Time) (bool, error) {
	id := claim.Holder
	if id != candidate {
		hrep, hnu, hreceived, err := in.reportOf(ctx, id)
		if err != nil {
			return false, err
		}
		if hnu.Key() == urlKey {
			stale, err := in.claimedForDuplicate(ctx, hrep.ReportID, id)
			if err != nil {
				return false, err
			}
			if stale {
				if _, err := in.store.TakeOverURL(ctx, urlKey, candidate, claim.Rev); err != nil {
					return false, err
				}
				return false, nil
			}
			rep, nu, received = hrep, hnu, hreceived
		}
	}
	return in.create(ctx, id, rep, nu, received)
}

// claimedForDuplicate reports whether the message of case id claimed its
// URL for a report that is on record for another case that exists.
func (in *Intake) claimedForDuplicate(ctx context.Context, reportID, id string) (bool, error) {
	onRecord, err := in.store.CaseOfReport(ctx, reportID)
	if errors.Is(err, store.ErrNotFound) || err == nil && onRecord == id {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return in.seenBefore(ctx, onRecord)
}

// reportOf reads back the report of the intake message whose case id is
// id; a zero report when the stream no longer holds a valid one.
func (in *Intake) reportOf(ctx context.Context, id string) (takedown.Report, urlnorm.URL, time.Time, error) {
	seq, ok := store.CaseIDSeq(id)
	if !ok {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, nil
	}
	// The stream's config has direct get off (intake.New), so the handle
	// reads from the stream leader.
	stream, err := in.store.JetStream().Stream(ctx, in.cfg.Stream)
	if err != nil {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, fmt.Errorf("read report of case %s: %w", id, err)
	}
	msg, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, nil
	}
	if err != nil {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, fmt.Errorf("read report of case %s: %w", id, err)
	}
	if store.CaseID(msg.Time, msg.Sequence) != id {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, nil
	}
	rep, nu, reason := in.decodeReport(msg.Data, msg.Header)
	if reason != "" {
		return takedown.Report{}, urlnorm.URL{}, time.Time{}, nil
	}
	return rep, nu, msg.Time.UTC(), nil
}

// create opens case id with the report: its opening events, the case and
// enrichment's unit of work (store.OpenCase). It reports false when the
// id is taken.
func (in *Intake) create(ctx context.Context, id string, rep takedown.Report, nu urlnorm.URL, received time.Time) (bool, error) {
	now := in.now().UTC()
	c := takedown.Case{
		ID: id, URL: nu.String, OriginalURL: rep.URL, Host: nu.Host, Domain: nu.Domain,
		State: takedown.StateReceived, ReceivedAt: received, UpdatedAt: now,
	}
	c.AddReport(takedown.RefOf(rep, received))
	// What the URL alone shows to be out of reach (a .onion host, a private
	// or CGNAT address) is decided here, with the case, rather than after
	// a round through enrichment: the one rule is urlnorm's, which
	// enrichment applies too.
	reason := nu.NotActionable()
	if reason != "" {
		if err := c.MoveTo(takedown.StateNotActionable, reason, now); err != nil {
			return false, err
		}
	}
	open := store.NewCase{Case: c, Events: openingEvents(id, rep, received, reason)}
	if w, ok := enrichWork(id, c.State); ok {
		open.Work = []store.Work{w}
	}
	if _, err := in.store.OpenCase(ctx, open); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return false, err
	}
	in.log.Info("case opened", "case_id", id, "priority", rep.Priority, "state", c.State)
	return true, nil
}

// openingEvents are the events of the report that opened case id:
// received, and not_actionable when reason says intake decided so at once.
// join repeats them for a redelivery of that report, so an append lost to
// a crash after the case was written is made good (the ids dedup them).
func openingEvents(id string, rep takedown.Report, received time.Time, reason string) []takedown.Event {
	events := []takedown.Event{takedown.Event{
		ID: "received-" + id, CaseID: id, Type: takedown.EventReceived, At: received,
		Actor: "intake", To: takedown.StateReceived, Reason: "confirmed report " + rep.ReportID,
	}.WithData(map[string]any{"report_id": rep.ReportID, "classification": rep.Classification, "priority": rep.Priority, "source": rep.Source})}
	if reason != "" {
		events = append(events, takedown.Event{
			ID: "not_actionable-" + id, CaseID: id, Type: takedown.EventNotActionable, At: received,
			Actor: "intake", From: takedown.StateReceived, To: takedown.StateNotActionable, Reason: reason,
		})
	}
	return events
}

func (in *Intake) enqueueEnrich(ctx context.Context, id string, state takedown.State) error {
	w, ok := enrichWork(id, state)
	if !ok {
		return nil
	}
	return in.store.Enqueue(ctx, w.Stage, id, w.DedupID, w.Data)
}

// enrichWork is enrichment's unit of work for a new case in state, if it
// needs one (a case intake found not actionable does not).
func enrichWork(id string, state takedown.State) (store.Work, bool) {
	if state != takedown.StateReceived {
		return store.Work{}, false
	}
	return store.Work{Stage: store.StageEnrich, DedupID: "enrich-" + id + "-new"}, true
}

func (in *Intake) join(ctx context.Context, id string, rep takedown.Report, nu urlnorm.URL, received time.Time) error {
	ev := takedown.Event{
		ID: "joined-" + id + "-" + rep.ReportID, CaseID: id, Type: takedown.EventReportJoined,
		Actor: "intake", Reason: "report " + rep.ReportID + " of the same URL",
	}.WithData(map[string]any{"report_id": rep.ReportID, "classification": rep.Classification, "priority": rep.Priority})
	var fresh bool
	_, err := in.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		events := []takedown.Event{ev}
		fresh = freshAttempt(c.State)
		if fresh {
			events = append(events, freshAttemptEvent(id, rep, c.State))
		}
		if c.HasReport(rep.ReportID) {
			if first := c.Reports[0]; first.ReportID == rep.ReportID {
				// The report that created the case, delivered again.
				fresh = false
				return openingEvents(id, rep, first.ReceivedAt, nu.NotActionable()), store.ErrNoChange
			}
			return events, store.ErrNoChange
		}
		c.AddReport(takedown.RefOf(rep, received))
		return events, nil
	})
	if err != nil {
		return err
	}
	in.log.Info("report joined case", "case_id", id)
	if !fresh {
		return nil
	}
	// After the events: a redelivery (the same report again) repeats both,
	// under the same ids.
	body, err := json.Marshal(takedown.EnrichRequest{Reason: takedown.EnrichReport, At: received})
	if err != nil {
		return fmt.Errorf("encode enrich request: %w", err)
	}
	if err := in.store.Enqueue(ctx, store.StageEnrich, id, "enrich-"+id+"-report-"+rep.ReportID, body); err != nil {
		return err
	}
	in.log.Info("report asks for a fresh attempt", "case_id", id)
	return nil
}

// freshAttempt reports whether a new report of a case in state s asks for
// its enrichment and routing to be tried again: the case waits for a
// person (review) or for its host to resolve (unresolvable), and the
// report says the material is still there to be found — perhaps now with
// a hoster, a contact or a name that was missing.
func freshAttempt(s takedown.State) bool {
	return s == takedown.StateReview || s == takedown.StateUnresolvable
}

func freshAttemptEvent(id string, rep takedown.Report, s takedown.State) takedown.Event {
	return takedown.Event{
		ID: "fresh-" + id + "-" + rep.ReportID, CaseID: id, Type: takedown.EventFreshAttempt, Actor: "intake", From: s, To: s,
		Reason: "report " + rep.ReportID + " of a case in " + string(s) + ": enrichment and routing are tried again",
	}.WithData(map[string]any{"report_id": rep.ReportID})
}
