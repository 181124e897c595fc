package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// process makes the report part of exactly one case. Every step is safe to
// repeat: a redelivery after a crash at any point converges on the same
// case, the same report list and the same events.
func (in *Intake) process(ctx context.Context, rep takedown.Report, nu urlnorm.URL, md *jetstream.MsgMetadata) (string, error) {
	if caseID, err := in.store.CaseOfReport(ctx, rep.ReportID); err == nil {
		in.log.Debug("duplicate report", "case_id", caseID)
		return caseID, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	candidate := store.CaseID(md.Timestamp, md.Sequence.Stream)
	received := md.Timestamp.UTC()
	caseID, err := in.joinOrCreate(ctx, rep, nu, candidate, received)
	if err != nil {
		return "", err
	}
	if err := in.store.RecordReport(ctx, rep.ReportID, caseID); err != nil {
		return caseID, err
	}
	return caseID, nil
}

func (in *Intake) joinOrCreate(ctx context.Context, rep takedown.Report, nu urlnorm.URL, candidate string, received time.Time) (string, error) {
	urlKey := nu.Key()
	var caseID string
	// Each conflict is the URL index moving under us: another worker
	// created the holder's case first, or the closed holder was replaced.
	err := store.RetryConflicts(ctx, "join or create case for url "+urlKey, func() error {
		holder, idxRev, err := in.store.ClaimURL(ctx, urlKey, candidate)
		if err != nil {
			return err
		}
		c, _, err := in.store.GetCase(ctx, holder)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The holder claimed the URL but its case is not written yet
			// (in flight on another worker, or lost to a crash). Creating it
			// under the holder's id is what either would do.
			created, err := in.create(ctx, holder, rep, nu, received)
			if err != nil {
				return err
			}
			if !created {
				return store.ErrConflict // the other worker won the race: join its case
			}
			caseID = holder
			return nil
		case err != nil:
			return err
		case !c.State.Open():
			// The URL's last case is closed: this report starts a new one.
			if _, err := in.store.TakeOverURL(ctx, urlKey, candidate, idxRev); err != nil {
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
	events := openingEvents(id, rep, received, reason)
	if _, err := in.store.CreateCase(ctx, c, events...); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return false, err
	}
	in.log.Info("case opened", "case_id", id, "priority", rep.Priority, "state", c.State)
	return true, in.enqueueEnrich(ctx, id, c.State)
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
	if state != takedown.StateReceived {
		return nil
	}
	return in.store.Enqueue(ctx, store.StageEnrich, id, "enrich-"+id+"-new", nil)
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
