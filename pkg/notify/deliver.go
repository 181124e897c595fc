package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// deliver makes one delivery attempt of a sealed notice, records what
// happened on the notice, and returns the record as that left it.
// retryIn > 0 asks for another attempt later.
func (s *Stage) deliver(ctx context.Context, rec takedown.Notice) (_ takedown.Notice, retryIn time.Duration, err error) {
	n := s.noticeOf(rec)
	attempt := rec.Attempts + 1
	switch rec.Channel {
	case "email":
		msg, err := s.opts.Renderer.Render(n)
		if err != nil {
			return s.fail(ctx, rec.Ref, "render notice: "+err.Error(), true)
		}
		res := s.opts.Mailer.Send(ctx, s.envelopeFrom(rec.Ref), []string{rec.To}, msg.Raw)
		switch {
		case len(res.Accepted()) > 0:
			return s.succeed(ctx, rec.Ref, attempt, "accepted: "+replyOf(res))
		case len(res.Permanent()) > 0:
			return s.fail(ctx, rec.Ref, replyOf(res), true)
		default:
			return s.retryLater(ctx, rec.Ref, attempt, replyOf(res))
		}
	case "webhook", "nats":
		body, err := notice.ForwardJSON(n, !s.cfg.PlainReplyTo)
		if err != nil {
			return s.fail(ctx, rec.Ref, "encode forward: "+err.Error(), true)
		}
		if rec.Channel == "nats" {
			if s.opts.NATS == nil {
				return s.fail(ctx, rec.Ref, "no NATS forwarder configured", true)
			}
			retry, err := s.opts.NATS.Forward(ctx, rec.To, rec.Ref, body)
			switch {
			case err == nil:
				return s.succeed(ctx, rec.Ref, attempt, "published to "+rec.To)
			case retry:
				return s.retryLater(ctx, rec.Ref, attempt, err.Error())
			default:
				return s.fail(ctx, rec.Ref, err.Error(), true)
			}
		}
		fw := s.opts.Webhooks[rec.Partner]
		if fw == nil {
			return s.fail(ctx, rec.Ref, "no webhook configured for partner "+rec.Partner, true)
		}
		retry, err := fw.Forward(ctx, rec.Ref, body)
		switch {
		case err == nil:
			return s.succeed(ctx, rec.Ref, attempt, "accepted by partner webhook")
		case retry:
			return s.retryLater(ctx, rec.Ref, attempt, err.Error())
		default:
			return s.fail(ctx, rec.Ref, err.Error(), true)
		}
	}
	return s.fail(ctx, rec.Ref, "unknown channel "+rec.Channel, true)
}

// envelopeFrom is the MAIL FROM of a notice: its VERP address when VERP
// is on, so that a bounce names the notice even if it quotes nothing.
func (s *Stage) envelopeFrom(ref string) string {
	if s.opts.VERP == nil {
		return s.cfg.From
	}
	return s.opts.VERP.Address(ref)
}

func replyOf(res smtp.Result) string {
	var parts []string
	for _, r := range res.Recipients {
		parts = append(parts, fmt.Sprintf("%d %s", r.Code, r.Reply))
	}
	if res.Err != nil && len(parts) == 0 {
		parts = append(parts, res.Err.Error())
	}
	return strings.Join(parts, "; ")
}

// succeed records a delivered notice.
func (s *Stage) succeed(ctx context.Context, ref string, attempt int, outcome string) (takedown.Notice, time.Duration, error) {
	e, err := s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
		if r.State != takedown.NoticeSending {
			return store.ErrNoChange
		}
		r.State, r.Outcome, r.Attempts, r.DoneAt = takedown.NoticeSent, outcome, attempt, s.now().UTC()
		return nil
	})
	if e.Changed {
		s.log.Info("notice delivered", "notice", ref, "attempt", attempt)
	}
	return e.Value, 0, err
}

// fail records a notice as failed for good with the reason.
func (s *Stage) fail(ctx context.Context, ref, outcome string, permanent bool) (takedown.Notice, time.Duration, error) {
	e, err := s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
		if r.State != takedown.NoticeSending {
			return store.ErrNoChange
		}
		r.State, r.Outcome, r.DoneAt = takedown.NoticeFailed, outcome, s.now().UTC()
		if permanent {
			r.Outcome = "permanent: " + outcome
		}
		return nil
	})
	return e.Value, 0, err
}

// retryLater records a temporary failure; after MaxAttempts the notice is
// failed for good, so a relay that never recovers is noticed by a person.
func (s *Stage) retryLater(ctx context.Context, ref string, attempt int, why string) (takedown.Notice, time.Duration, error) {
	if attempt >= s.cfg.MaxAttempts {
		s.log.Error("notice gave up after temporary failures", "notice", ref, "attempt", attempt, "err", why)
		return s.fail(ctx, ref, fmt.Sprintf("gave up after %d attempts: %s", attempt, why), false)
	}
	e, err := s.rec.notices.Update(ctx, ref, func(r *takedown.Notice) error {
		if r.State != takedown.NoticeSending {
			return store.ErrNoChange
		}
		r.Attempts, r.LastError = attempt, why
		return nil
	})
	if err != nil || !e.Changed {
		// Another worker finished the notice meanwhile: record that now.
		return e.Value, 0, err
	}
	s.log.Warn("notice not delivered, will retry", "notice", ref, "attempt", attempt, "err", why)
	return e.Value, s.backoff(attempt), nil
}

// recordOutcome writes a finished notice onto each of its cases: the
// notice reference's outcome, the state (noticed or forwarded), an event,
// and — when a contact refused for good — a new routing to the next one.
// Event ids make it safe to run again after a crash.
func (s *Stage) recordOutcome(ctx context.Context, rec takedown.Notice) error {
	if rec.State != takedown.NoticeSent && rec.State != takedown.NoticeFailed {
		return nil
	}
	first := rec.Kind == string(notice.KindFirst) || rec.Kind == string(notice.KindForward)
	ids := make([]string, len(rec.Items))
	for i, it := range rec.Items {
		ids[i] = it.CaseID
	}
	return forEachCase(ctx, ids, func(ctx context.Context, _ int, id string) error {
		var ev takedown.Event
		var reroute bool
		_, err := s.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
			ev, reroute = s.outcomeEvent(c, rec, first)
			if !c.State.CanMoveTo(ev.To) {
				// The case moved on meanwhile (closed, say): record the
				// outcome on it without moving it back.
				ev.To, reroute = c.State, false
			}
			changed := false
			for i := range c.Notices {
				n := &c.Notices[i]
				if n.Ref == rec.Ref && n.Outcome == "sending" {
					n.Outcome, n.MessageID, changed = outcomeWord(rec), rec.MessageID, true
				}
			}
			if !changed {
				return []takedown.Event{ev}, store.ErrNoChange
			}
			if ev.To != c.State {
				if err := c.MoveTo(ev.To, ev.Reason, s.now().UTC()); err != nil {
					return nil, err
				}
			}
			if reroute {
				c.Routing.Failing = append(c.Routing.Failing, strings.ToLower(rec.To))
			}
			return []takedown.Event{ev}, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if reroute {
			if err := s.store.Enqueue(ctx, store.StageRoute, id, "route-"+id+"-after-"+rec.Ref, nil); err != nil {
				return err
			}
		}
		if rec.State == takedown.NoticeSent && rec.Kind != string(notice.KindReminder) && rec.Kind != string(notice.KindEscalation) && s.opts.OnNoticed != nil {
			return s.opts.OnNoticed(ctx, id, rec.SentAt)
		}
		return nil
	})
}

func outcomeWord(rec takedown.Notice) string {
	if rec.State == takedown.NoticeSent {
		return "sent"
	}
	return "failed"
}

// outcomeEvent is the event a finished notice leaves on a case, with the
// state it moves the case to ("" to stay).
func (s *Stage) outcomeEvent(c *takedown.Case, rec takedown.Notice, first bool) (takedown.Event, bool) {
	data := map[string]any{"notice": rec.Ref, "channel": rec.Channel, "to": rec.To, "kind": rec.Kind, "level": rec.Level, "message_id": rec.MessageID, "outcome": rec.Outcome}
	ev := takedown.Event{CaseID: c.ID, Actor: "notify", From: c.State}
	reroute := false
	if rec.State == takedown.NoticeSent {
		ev.ID = "sent-" + rec.Ref + "-" + c.ID
		switch rec.Kind {
		case string(notice.KindForward):
			ev.Type, ev.To, ev.Reason = takedown.EventForwarded, takedown.StateForwarded, "forwarded to partner hotline "+rec.To
		case string(notice.KindReminder):
			ev.Type, ev.Reason = takedown.EventReminder, fmt.Sprintf("reminder %d sent to %s", rec.Reminder, rec.To)
		case string(notice.KindEscalation):
			ev.Type, ev.Reason = takedown.EventEscalated, "escalated to the "+rec.Level+" ("+rec.To+")"
		default:
			ev.Type, ev.Reason = takedown.EventNoticed, rec.Kind+" notice accepted for "+rec.To
			if c.State == takedown.StateRouted || c.State == takedown.StateEnriched || c.State == takedown.StateReview {
				ev.To = takedown.StateNoticed
			}
		}
		if ev.To == "" {
			ev.To = c.State
		}
		return ev.WithData(data), false
	}
	ev.ID = "failed-" + rec.Ref + "-" + c.ID
	ev.Type, ev.Reason, ev.To = takedown.EventNoticeFailed, "notice to "+rec.To+" failed: "+rec.Outcome, c.State
	if rec.Channel != "email" {
		ev.Type = takedown.EventForwardFailed
	}
	if first && c.State == takedown.StateRouted {
		if strings.HasPrefix(rec.Outcome, "permanent:") && rec.Channel == "email" && c.Routing != nil {
			// The contact refused for good: route again; Decide skips it.
			ev.To, reroute = takedown.StateEnriched, true
		} else {
			ev.To = takedown.StateReview
		}
	}
	return ev.WithData(data), reroute
}
