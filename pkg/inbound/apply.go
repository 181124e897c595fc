package inbound

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	Permanent bool
	Temporary bool
	Status    string
	Diag      string
	Action    string
	Recipient string
	MTA       string
}

var (
	enhancedRE = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)
	smtpCodeRE = regexp.MustCompile(`\b(5[0-5][0-9]|4[0-5][0-9])[ -]`)
)

// deliveryOf reads the status of the notice's recipient from a report,
// or — for a bounce that is only text — from the first status code in it.
func deliveryOf(p parsed, to string) delivery {
	if p.DSN != nil {
		rc, ok := recipientFor(p.DSN, to)
		if !ok {
			return delivery{}
		}
		return delivery{
			Permanent: rc.Permanent(), Temporary: rc.Temporary(), Status: rc.Status, Diag: rc.DiagnosticCode,
			Action: rc.Action, Recipient: rc.FinalRecipient, MTA: p.DSN.ReportingMTA,
		}
	}
	d := delivery{Action: "failed"}
	if m := enhancedRE.FindStringSubmatch(p.Text); m != nil {
		d.Status = m[0]
		d.Permanent, d.Temporary = m[1] == "5", m[1] == "4"
	} else if m := smtpCodeRE.FindStringSubmatch(p.Text); m != nil {
		d.Status = m[1]
		d.Permanent, d.Temporary = m[1][0] == '5', m[1][0] == '4'
	}
	if d.Status == "" {
		l := strings.ToLower(p.Text)
		d.Permanent = strings.Contains(l, "permanent error") || strings.Contains(l, "permanent failure")
	}
	if i := strings.Index(p.Text, d.Status); d.Status != "" && i >= 0 {
		line, _, _ := strings.Cut(p.Text[i:], "\n")
		d.Diag = bounded(strings.TrimSpace(line), 300)
	}
	return d
}

// recipientFor picks the report's entry for the notice's recipient, else
// its first failed, delayed or any entry (a forwarding alias may have
// bounced under another name).
func recipientFor(r *dsn.Report, to string) (dsn.Recipient, bool) {
	for _, rc := range r.Recipients {
		if strings.EqualFold(rc.FinalRecipient, to) || strings.EqualFold(rc.OriginalRecipient, to) {
			return rc, true
		}
	}
	if rc, ok := r.Failed(); ok {
		return rc, true
	}
	if rc, ok := r.Delayed(); ok {
		return rc, true
	}
	if len(r.Recipients) > 0 {
		return r.Recipients[0], true
	}
	return dsn.Recipient{}, false
}

// bounce records a bounce on every case of the notice. A permanent one
// also marks the notice failed on the case and, where the case is still
// routed to that address, marks the address failing; if the case's first
// notice went there, the case goes back to routing for the next contact
// (as the notify stage does when a relay refuses with 5xx at send time).
func (in *Ingester) bounce(ctx context.Context, key string, p parsed, n takedown.Notice, res *Result) error {
	d := deliveryOf(p, n.To)
	switch {
	case d.Permanent:
		res.Kind = KindBounce
	case d.Temporary:
		res.Kind = KindDelay
	case p.DSN != nil && d.Action != "":
		// A positive report (delivered, relayed): nothing to record.
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
	}
	var reroute bool
	_, err := in.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		reroute = false
		ev := takedown.Event{ID: eventID("bounced", key, id), CaseID: id, Actor: "inbound", From: c.State, To: c.State}
		status := strings.TrimSpace(d.Status + " " + d.Diag)
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
