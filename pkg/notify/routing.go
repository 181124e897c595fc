package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// handleRoute decides where an enriched case goes and queues its notice.
func (s *Stage) handleRoute(ctx context.Context, msg jetstream.Msg) {
	id := store.CaseOfWork(msg.Subject())
	if err := s.routeCase(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			_ = msg.TermWithReason("case not found")
			return
		}
		s.log.Warn("route case, will retry", "case_id", id, "err", err)
		_ = msg.NakWithDelay(s.backoff(1))
		return
	}
	_ = msg.Ack()
}

func (s *Stage) routeCase(ctx context.Context, id string) error {
	c, _, err := s.store.GetCase(ctx, id)
	if err != nil {
		return err
	}
	if c.State != takedown.StateEnriched && c.State != takedown.StateRouted {
		return nil // stale work: the case moved on
	}
	var failing []string
	if c.Routing != nil {
		failing = c.Routing.Failing
	}
	d := route.Decide(c, s.opts.Policy, failing)
	enrichedAt := int64(0)
	if c.Enrichment != nil {
		enrichedAt = c.Enrichment.At.UnixNano()
	}
	evID := fmt.Sprintf("routed-%s-%d-%d", id, enrichedAt, len(failing))
	typ, next := takedown.EventRouted, takedown.StateRouted
	var tmpl takedown.Notice
	switch {
	case d.Kind == takedown.RouteReview:
		typ, next = takedown.EventReview, takedown.StateReview
	default:
		tmpl = firstNotice(d)
		if alreadyNoticed(c, tmpl) {
			// A re-enrichment (hoster refresh) that found the same hoster:
			// the first notice stands, re-checks go on, nobody is told twice.
			next = takedown.StateNoticed
			if tmpl.Kind == string(notice.KindForward) {
				next = takedown.StateForwarded
			}
			d.Reason = "routing unchanged: " + tmpl.To + " already has the first notice"
		}
	}
	ev := takedown.Event{ID: evID, CaseID: id, Type: typ, Actor: "route", Reason: d.Reason, From: c.State, To: next}.
		WithData(map[string]any{"kind": d.Kind, "country": d.Country, "lang": d.Lang, "contacts": emails(d.Contacts), "partner": partnerName(d.Partner)})
	c, err = s.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		if c.State == next {
			return []takedown.Event{ev}, store.ErrNoChange
		}
		r := d.Routing()
		r.At, r.Failing = s.now().UTC(), failing
		c.Routing = &r
		return []takedown.Event{ev}, c.MoveTo(next, d.Reason, s.now().UTC())
	})
	if err != nil {
		return err
	}
	if d.Kind == takedown.RouteReview {
		s.log.Info("case sent to review", "case_id", id, "reason", d.Reason)
		return nil
	}
	if next != takedown.StateRouted {
		return nil
	}
	ref, err := s.addToBatch(ctx, tmpl, id, c.Priority == takedown.PriorityHigh)
	if err != nil {
		return err
	}
	s.log.Info("case routed", "case_id", id, "route", d.Kind, "country", d.Country, "notice", ref)
	return nil
}

// firstNotice is the notice a routing decision asks for.
func firstNotice(d route.Decision) takedown.Notice {
	rec := takedown.Notice{Kind: string(notice.KindFirst), Lang: d.Lang, Channel: "email"}
	switch d.Kind {
	case takedown.RoutePartner:
		rec.Kind, rec.Level = string(notice.KindForward), string(notice.LevelPartner)
		rec.Channel, rec.To, rec.Partner = d.Partner.Channel, d.Partner.Address, d.Partner.Country
	case takedown.RouteCDN:
		rec.Level, rec.To = string(notice.LevelCDN), d.Contacts[0].Email
	default:
		rec.Level, rec.To = string(notice.LevelHoster), d.Contacts[0].Email
	}
	return rec
}

func emails(cs []takedown.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Email
	}
	return out
}

func partnerName(p *route.Partner) string {
	if p == nil {
		return ""
	}
	return p.Name
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
