package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/inbound/dsn"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// maxSubject bounds the subject kept on an event.
const maxSubject = 200

// reply records a reply on every case of the notice and asks for an
// immediate re-check of each, unless the reply is automatic: an
// out-of-office says nothing about the material.
func (in *Ingester) reply(ctx context.Context, key string, p parsed, n takedown.Notice, res *Result) error {
	res.Kind = KindReply
	reason := "reply from " + p.From + " to notice " + n.Ref
	if p.Auto {
		res.Kind, reason = KindAutoReply, "automatic reply from "+p.From+" to notice "+n.Ref
	}
	data := map[string]any{
		"notice": n.Ref, "from": p.From, "subject": bounded(p.Subject, maxSubject), "text": excerpt(p.Text),
		"message_id": p.MessageID, "auto": p.Auto, "matched_by": res.MatchedBy,
	}
	if p.Suspicious != "" {
		data["suspicious"] = p.Suspicious
	}
	if !p.Auto && in.opts.Health != nil {
		// A person wrote from the address: it works, whatever bounced.
		cleared, err := in.opts.Health.Clear(ctx, p.From)
		if err != nil {
			return err
		}
		if cleared {
			in.log.Info("reply from an address marked failing: the mark is dropped", "notice", n.Ref)
		}
	}
	for _, id := range n.CaseIDs() {
		c, _, err := in.store.GetCase(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if c.Anonymised != nil {
			// Retention dropped the case's addresses and redacted its
			// trail: a late reply (its sender, its words) is not written
			// back onto it.
			continue
		}
		ev := takedown.Event{
			ID: eventID("replied", key, id), CaseID: id, Type: takedown.EventReplied, Actor: "inbound",
			Reason: reason, From: c.State, To: c.State,
		}.WithData(data)
		if err := in.store.AppendEvents(ctx, ev); err != nil {
			return err
		}
		res.Cases = append(res.Cases, id)
		if p.Auto || in.opts.RequestCheck == nil {
			continue
		}
		if err := in.opts.RequestCheck(ctx, id); err != nil {
			return fmt.Errorf("request check of case %s: %w", id, err)
		}
	}
	return nil
}

// delivery is what a bounce says about the notice's recipient.
type delivery struct {
	// Permanent: delivery failed and the sending server gave up (the
	// report's kind is bounce). Hard says whether the address itself is
	// gone for good (reason userunknown, hostunknown, hasmoved,
	// notaccept); a soft failure (mailboxfull, blocked, filtered, …)
	// may pass.
	Permanent  bool
	Temporary  bool // delayed, or expired in the sender's queue
	Hard       bool
	Reason     string // sisimai's reason name
	Status     string
	Diag       string
	Action     string
	Recipient  string
	MTA        string
	Format     string
	Suspicious string
	// Verified: the bounce is evidence enough to mark the address for
	// every case (takedown.Verified); Marks: it does.
	Verified, Marks bool
}

// deliveryOf reads the status of the notice's recipient from a report.
func deliveryOf(p parsed, to string) delivery {
	if p.Bounce == nil {
		return delivery{}
	}
	rc, ok := p.Bounce.For(to)
	if !ok {
		return delivery{Permanent: p.Bounce.Kind == dsn.KindBounce, Temporary: p.Bounce.Kind == dsn.KindDelay, Format: p.Bounce.Format}
	}
	return delivery{
		Permanent: p.Bounce.Kind == dsn.KindBounce, Temporary: p.Bounce.Kind == dsn.KindDelay,
		Hard: rc.Permanent, Reason: rc.Reason, Status: rc.Status, Diag: bounded(rc.Diagnostic, 300),
		Action: rc.Action, Recipient: rc.Address, MTA: p.Bounce.ReportingMTA, Format: p.Bounce.Format,
	}
}

// bounce records a bounce or delay on every case of the notice and does
// what takedown.DeliveryRules says of its outcome: a failed delivery marks
// the notice failed on each case, adds the address to the case's failing
// contacts and has the case's next contact told (route work that names the
// failed notice), whatever state the case is in, without moving it or
// touching its checks; an address gone for good is also marked failing for
// every case when the bounce is verified (takedown.Verified); a delay is
// recorded and waited for.
func (in *Ingester) bounce(ctx context.Context, key string, p parsed, n takedown.Notice, res *Result) error {
	d := deliveryOf(p, n.To)
	d.Suspicious = p.Suspicious
	var outcome takedown.Delivery
	switch {
	case d.Permanent && d.Hard:
		res.Kind, outcome = KindBounce, takedown.DeliveryGone
	case d.Permanent:
		res.Kind, outcome = KindBounce, takedown.DeliveryFailed
	case d.Temporary:
		res.Kind, outcome = KindDelay, takedown.DeliveryDelayed
	case p.Bounce != nil && p.Bounce.Kind == dsn.KindReport:
		// A positive report (delivered, relayed) or ARF feedback:
		// nothing to record.
		res.Kind = KindReport
		return nil
	default:
		// A bounce we cannot grade still says the notice did not arrive.
		res.Kind, outcome = KindBounce, takedown.DeliveryFailed
	}
	rule := takedown.DeliveryRules[outcome]
	d.Verified = takedown.Verified(res.MatchedBy, in.opts.VERP != nil, p.Suspicious)
	d.Marks = rule.MarkFailing && d.Verified && n.Channel == "email" && in.opts.Health != nil
	for _, id := range n.CaseIDs() {
		next, err := in.bounceCase(ctx, key, id, n, d, rule)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		res.Cases = append(res.Cases, id)
		if !next {
			continue
		}
		res.Rerouted = append(res.Rerouted, id)
		body, err := json.Marshal(takedown.RouteRequest{Failed: n.Ref})
		if err != nil {
			return fmt.Errorf("encode route request: %w", err)
		}
		if err := in.store.Enqueue(ctx, store.StageRoute, id, "route-"+id+"-bounce-"+n.Ref, body); err != nil {
			return err
		}
		in.log.Info("notice bounced: the next contact is told", "case_id", id, "notice", n.Ref, "status", d.Status, "reason", d.Reason)
	}
	if d.Marks && len(res.Cases) > 0 {
		h := takedown.ContactHealth{Reason: d.Reason, Status: d.Status, Notice: n.Ref, Case: res.Cases[0]}
		if err := in.opts.Health.Mark(ctx, n.To, h); err != nil {
			return err
		}
		in.log.Info("address bounced for good: skipped for every case until the mark expires", "notice", n.Ref, "reason", d.Reason)
	}
	return nil
}

// bounceCase records the outcome on one case and reports whether its
// next contact is to be told. It is safe to repeat (the message delivered
// again after a crash): the event id is the message's, and the route work
// is asked for again under the same id.
func (in *Ingester) bounceCase(ctx context.Context, key, id string, n takedown.Notice, d delivery, rule takedown.DeliveryRule) (bool, error) {
	data := map[string]any{
		"notice": n.Ref, "to": n.To, "kind": n.Kind, "level": n.Level, "status": d.Status, "diagnostic": d.Diag,
		"action": d.Action, "final_recipient": d.Recipient, "reporting_mta": d.MTA, "permanent": d.Permanent,
		"reason": d.Reason, "hard": d.Hard, "format": d.Format, "verified": d.Verified, "marks_failing": d.Marks,
	}
	if d.Suspicious != "" {
		data["suspicious"] = d.Suspicious
	}
	var next bool
	_, err := in.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		next = false
		if c.Anonymised != nil {
			return nil, store.ErrNoChange // as for a late reply: nothing is written back
		}
		ev := takedown.Event{ID: eventID("bounced", key, id), CaseID: id, Actor: "inbound", Type: rule.Event, From: c.State, To: c.State}
		status := strings.TrimSpace(d.Reason + " " + d.Status + " " + d.Diag)
		if rule.Wait {
			ev.Reason = "delivery of notice " + n.Ref + " to " + n.To + " delayed: " + status
			return []takedown.Event{ev.WithData(data)}, store.ErrNoChange
		}
		ev.Reason = "notice " + n.Ref + " to " + n.To + " bounced: " + status
		if d.Hard {
			ev.Reason = "notice " + n.Ref + " to " + n.To + " bounced for good: " + status
		}
		changed := false
		for i := range c.Notices {
			// A notice still "sending" on the case is left to the notify
			// stage, which records it sent (and starts the checks).
			if c.Notices[i].Ref == n.Ref && c.Notices[i].Outcome == "sent" {
				c.Notices[i].Outcome, changed = "failed", true
			}
		}
		if n.Channel == "email" && c.Routing != nil && !containsFold(c.Routing.Failing, n.To) {
			c.Routing.Failing = append(c.Routing.Failing, strings.ToLower(n.To))
			changed = true
		}
		// A removed case has nothing left to tell anyone about.
		next = rule.NextContact && c.State.Open() && c.State != takedown.StateRemoved
		if next {
			ev.Reason += "; the next contact is told"
		}
		ev = ev.WithData(data)
		if !changed {
			return []takedown.Event{ev}, store.ErrNoChange
		}
		return []takedown.Event{ev}, nil
	})
	return next, err
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func bounded(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
