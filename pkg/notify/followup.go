package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// handleFollowUp sends what re-checks ask for: a reminder, an escalation
// to the next party up the chain, or word that the material reappeared.
func (s *Stage) handleFollowUp(ctx context.Context, msg jetstream.Msg) {
	id := store.CaseOfWork(msg.Subject())
	var req takedown.NotifyRequest
	if err := json.Unmarshal(msg.Data(), &req); err != nil {
		s.log.Error("notify request not understood", "case_id", id, "err", err)
		_ = msg.TermWithReason("bad notify request")
		return
	}
	if err := s.followUp(ctx, id, req); err != nil {
		if s.hold(ctx, msg, id, err) {
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			_ = msg.TermWithReason("case not found")
			return
		}
		s.log.Warn("queue follow-up notice, will retry", "case_id", id, "err", err)
		_ = msg.NakWithDelay(s.backoff(1))
		return
	}
	_ = msg.Ack()
}

func (s *Stage) followUp(ctx context.Context, id string, req takedown.NotifyRequest) error {
	c, _, err := s.store.GetCase(ctx, id)
	if err != nil {
		return err
	}
	if err := s.paused(c); err != nil {
		return err
	}
	if c.Routing == nil {
		return s.noRecipient(ctx, c, req, "the case was never routed")
	}
	failing, err := s.failing(ctx, c)
	if err != nil {
		return err
	}
	rec := takedown.Notice{Kind: req.Kind, Level: req.Level, Lang: c.Routing.Lang, Channel: "email", Reminder: req.Reminder}
	if rec.Level == "" {
		rec.Level = string(notice.LevelHoster)
	}
	if rec.Lang == "" {
		rec.Lang = "en"
	}
	for _, n := range c.Notices {
		if (n.Kind == string(notice.KindFirst) || n.Kind == string(notice.KindForward)) && n.Outcome == "sent" {
			rec.PrevRef = n.Ref
			break
		}
	}
	switch rec.Level {
	case string(notice.LevelHoster), string(notice.LevelPartner), string(notice.LevelCDN):
		first := firstRecipient(c, failing)
		if first.To == "" {
			return s.noRecipient(ctx, c, req, "no working contact left")
		}
		rec.Channel, rec.To, rec.Partner, rec.Level = first.Channel, first.To, first.Partner, first.Level
	case string(notice.LevelUpstream):
		rec.To = contactWithRole(c, "upstream", failing)
	case string(notice.LevelRegistrar):
		if e := c.Enrichment; e != nil && e.Registrar != nil && e.Registrar.Abuse != nil && !containsFold(failing, e.Registrar.Abuse.Email) {
			rec.To = e.Registrar.Abuse.Email
		}
	case string(notice.LevelAuthority):
		rec.To, rec.Lang = s.cfg.Authority.Email, "nl"
	}
	if rec.To == "" && (rec.Level == string(notice.LevelUpstream) || rec.Level == string(notice.LevelRegistrar)) &&
		c.Enrichment != nil && c.Enrichment.EscalationPending {
		// The levels above the hoster are still being looked up (the
		// first notice did not wait for them): the escalation waits, and
		// is retried, rather than skip a level that is about to be known.
		return fmt.Errorf("escalate case %s to %s: its escalation chain is still being looked up", c.ID, rec.Level)
	}
	if rec.To == "" {
		return s.noRecipient(ctx, c, req, "no "+rec.Level+" contact known")
	}
	if rec.Kind == string(notice.KindReappeared) {
		rec.Level = string(notice.LevelHoster)
	}
	rec.Format = s.formatFor(rec, caseContacts(c))
	now := s.now().UTC()
	// The reference comes from the request alone (its counter is the
	// reminder or reopening number), so a redelivered request finds the
	// notice it already made instead of sending a second one.
	rec.Ref = fmt.Sprintf("TD-%s-%s%d", c.ID, refCode(rec), req.Reminder)
	rec.State, rec.OpenedAt, rec.Cases = takedown.NoticeOpen, now, []string{c.ID}
	rec.DueAt = s.window.next(now, c.Priority == takedown.PriorityHigh || rec.Level == string(notice.LevelAuthority))
	if _, err := s.rec.notices.Create(ctx, rec.Ref, rec); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	return s.scheduleFlush(ctx, rec.Ref)
}

func refCode(rec takedown.Notice) string {
	switch rec.Kind {
	case string(notice.KindReminder):
		return "R"
	case string(notice.KindReappeared):
		return "A"
	}
	return "E" + string(rec.Level[0]-'a'+'A')
}

// firstRecipient is whom the case's first notice went to, unless that
// address is failing (then the next of the route's contacts).
func firstRecipient(c takedown.Case, failing []string) takedown.Notice {
	d := c.Routing
	switch d.Kind {
	case takedown.RoutePartner:
		for _, n := range c.Notices {
			if n.Kind == string(notice.KindForward) {
				return takedown.Notice{Channel: n.Channel, To: n.To, Partner: d.Country, Level: string(notice.LevelPartner)}
			}
		}
	case takedown.RouteHoster, takedown.RouteCDN:
		level := string(notice.LevelHoster)
		if d.Kind == takedown.RouteCDN {
			level = string(notice.LevelCDN)
		}
		for _, ct := range d.Contacts {
			if !containsFold(failing, ct.Email) {
				return takedown.Notice{Channel: "email", To: ct.Email, Level: level}
			}
		}
	}
	return takedown.Notice{}
}

func contactWithRole(c takedown.Case, role string, failing []string) string {
	if c.Enrichment == nil {
		return ""
	}
	for _, ct := range c.Enrichment.Contacts {
		if ct.Role == role && !containsFold(failing, ct.Email) {
			return ct.Email
		}
	}
	return ""
}

// noRecipient records that a follow-up could not be sent to anyone, so a
// person sees it on the timeline instead of the step vanishing.
func (s *Stage) noRecipient(ctx context.Context, c takedown.Case, req takedown.NotifyRequest, why string) error {
	ev := takedown.Event{
		ID: fmt.Sprintf("nofollowup-%s-%s-%s-%d", c.ID, req.Kind, req.Level, req.Reminder), CaseID: c.ID,
		Type: takedown.EventNoticeFailed, Actor: "notify", Reason: fmt.Sprintf("%s (%s) not sent: %s", req.Kind, req.Level, why),
	}
	s.log.Warn("follow-up notice has no recipient", "case_id", c.ID, "kind", req.Kind, "level", req.Level)
	return s.store.AppendEvents(ctx, ev)
}
