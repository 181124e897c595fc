package inbound

import (
	"context"
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
	for _, id := range n.CaseIDs() {
		c, _, err := in.store.GetCase(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
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

// bounce records a bounce on every case of the notice. A permanent one
// also marks the notice failed on the case and, where the case is still
// routed to that address, marks the address failing; if the case's first
// notice went there, the case goes back to routing for the next contact
// (as the notify stage does when a relay refuses with 5xx at send time).
func (in *Ingester) bounce(ctx context.Context, key string, p parsed, n takedown.Notice, res *Result) error {
	d := deliveryOf(p, n.To)
	d.Suspicious = p.Suspicious
	switch {
	case d.Permanent:
		res.Kind = KindBounce
	case d.Temporary:
		res.Kind = KindDelay
	case p.Bounce != nil && p.Bounce.Kind == dsn.KindReport:
		// A positive report (delivered, relayed) or ARF feedback:
		// nothing to record.
		res.Kind = KindReport
		return nil
	default:
		res.Kind = KindBounce // a bounce we cannot grade: event only
	}
	for _, id := range n.CaseIDs() {
		rerouted, err := in.bounceCase(ctx, key, id, n, d)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		res.Cases = append(res.Cases, id)
		if rerouted {
			res.Rerouted = append(res.Rerouted, id)
			if err := in.store.Enqueue(ctx, store.StageRoute, id, "route-"+id+"-bounce-"+n.Ref, nil); err != nil {
				return err
			}
			in.log.Info("notice bounced: case routed again", "case_id", id, "notice", n.Ref, "status", d.Status)
		}
	}
	return nil
}

func (in *Ingester) bounceCase(ctx context.Context, key, id string, n takedown.Notice, d delivery) (bool, error) {
	data := map[string]any{
		"notice": n.Ref, "to": n.To, "kind": n.Kind, "level": n.Level, "status": d.Status, "diagnostic": d.Diag,
		"action": d.Action, "final_recipient": d.Recipient, "reporting_mta": d.MTA, "permanent": d.Permanent,
		"reason": d.Reason, "hard": d.Hard, "format": d.Format,
	}
	if d.Suspicious != "" {
		data["suspicious"] = d.Suspicious
	}
	var reroute bool
	_, err := in.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		reroute = false
		ev := takedown.Event{ID: eventID("bounced", key, id), CaseID: id, Actor: "inbound", From: c.State, To: c.State}
		status := strings.TrimSpace(d.Reason + " " + d.Status + " " + d.Diag)
		if !d.Permanent {
			ev.Type, ev.Reason = takedown.EventNoticeFailed, "notice "+n.Ref+" to "+n.To+" bounced: "+status
			if d.Temporary {
				ev.Type, ev.Reason = takedown.EventNoticeDelayed, "delivery of notice "+n.Ref+" to "+n.To+" delayed: "+status
			}
			return []takedown.Event{ev.WithData(data)}, store.ErrNoChange
		}
		ev.Type, ev.Reason = takedown.EventNoticeFailed, "notice "+n.Ref+" to "+n.To+" bounced for good: "+status
		changed := false
		for i := range c.Notices {
			if c.Notices[i].Ref == n.Ref && c.Notices[i].Outcome != "failed" {
				c.Notices[i].Outcome, changed = "failed", true
			}
		}
		if n.Channel == "email" && n.StillRoutedTo(*c) {
			c.Routing.Failing = append(c.Routing.Failing, strings.ToLower(n.To))
			changed = true
			if firstNoticeTo(c, n.To) && (c.State == takedown.StateRouted || c.State == takedown.StateNoticed) {
				ev.To, ev.Reason = takedown.StateEnriched, ev.Reason+"; routing to the next contact"
				if err := c.MoveTo(takedown.StateEnriched, "first notice to "+n.To+" bounced", in.now().UTC()); err != nil {
					return nil, err
				}
				reroute = true
			}
		}
		// Repeated after a crash between the update and the route work:
		// the case waits in enriched for exactly this routing.
		if !changed && c.State == takedown.StateEnriched && c.Routing != nil && containsFold(c.Routing.Failing, n.To) && firstNoticeTo(c, n.To) {
			reroute = true
		}
		ev = ev.WithData(data)
		if !changed {
			return []takedown.Event{ev}, store.ErrNoChange
		}
		return []takedown.Event{ev}, nil
	})
	return reroute, err
}

// firstNoticeTo reports whether the case's latest first notice went to
// addr.
func firstNoticeTo(c *takedown.Case, addr string) bool {
	for _, nr := range slices.Backward(c.Notices) {
		if nr.Kind == "first" || nr.Kind == "" {
			return strings.EqualFold(nr.To, addr)
		}
	}
	return false
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
