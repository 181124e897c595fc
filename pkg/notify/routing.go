package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// handleRoute decides where a case goes and queues its notice.
func (s *Stage) handleRoute(ctx context.Context, msg jetstream.Msg) {
	id := store.CaseOfWork(msg.Subject())
	var req takedown.RouteRequest
	if len(msg.Data()) > 0 {
		if err := json.Unmarshal(msg.Data(), &req); err != nil {
			s.log.Error("route request not understood", "case_id", id, "err", err)
			_ = msg.TermWithReason("bad route request")
			return
		}
	}
	redelivered := false
	if md, err := msg.Metadata(); err == nil {
		redelivered = md.NumDelivered > 1
	}
	if err := s.routeCase(ctx, id, req, redelivered); err != nil {
		if s.hold(ctx, msg, id, err) {
			return
		}
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

// routeCase routes an enriched case, or — when req names a notice of the
// case that failed — tells the case's next contact (nextStep). A case
// that was noticed keeps its state then: a failed delivery widens who is
// told and never moves a case back or stops its checks. redelivered says
// the work was handed out before: the earlier attempt may have opened the
// case's notice and died (or lost NATS) before its flush was queued.
func (s *Stage) routeCase(ctx context.Context, id string, req takedown.RouteRequest, redelivered bool) error {
	c, _, err := s.store.GetCase(ctx, id)
	if err != nil {
		return err
	}
	after := req.Failed != ""
	switch {
	case c.State == takedown.StateEnriched || c.State == takedown.StateRouted:
	case after && c.State.Open():
	default:
		return nil // stale work: the case moved on
	}
	if err := s.paused(c); err != nil {
		return err
	}
	failing, err := s.failing(ctx, c)
	if err != nil {
		return err
	}
	var failed *takedown.Notice
	if after {
		rec, _, err := s.rec.notices.Get(ctx, req.Failed)
		switch {
		case err == nil:
			failed = &rec
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	p := s.nextStep(c, failing, failed)
	next := p.state(c)
	enrichedAt := int64(0)
	if c.Enrichment != nil {
		enrichedAt = c.Enrichment.At.UnixNano()
	}
	evID := fmt.Sprintf("routed-%s-%d-%d", id, enrichedAt, len(failing))
	if after {
		evID = "routed-" + id + "-after-" + req.Failed
	}
	typ := takedown.EventRouted
	if p.review {
		typ = takedown.EventReview
	}
	data := map[string]any{"kind": p.routing.Kind, "country": p.routing.Country, "lang": p.routing.Lang, "contacts": emails(p.routing.Contacts), "partner": p.routing.Partner}
	if after {
		data["after"] = req.Failed
	}
	if len(failing) > 0 {
		data["failing"] = failing
	}
	ev := takedown.Event{ID: evID, CaseID: id, Type: typ, Actor: "route", Reason: p.reason, From: c.State, To: next}.WithData(data)
	c, err = s.store.Update(ctx, id, func(c *takedown.Case) ([]takedown.Event, error) {
		if err := s.paused(*c); err != nil {
			return nil, err
		}
		if c.State == next && (!after || sameRouting(c.Routing, p.routing)) {
			return []takedown.Event{ev}, store.ErrNoChange
		}
		r := p.routing
		r.At = s.now().UTC()
		if c.Routing != nil {
			r.Failing = c.Routing.Failing
		}
		c.Routing = &r
		if c.State == next {
			return []takedown.Event{ev}, nil
		}
		return []takedown.Event{ev}, c.MoveTo(next, p.reason, s.now().UTC())
	})
	if err != nil {
		return err
	}
	if p.review {
		s.log.Info("case sent to review", "case_id", id, "reason", p.reason)
		return nil
	}
	if p.notice == nil {
		return nil
	}
	tmpl := *p.notice
	tmpl.Format = s.formatFor(tmpl, caseContacts(c))
	ref, err := s.addToBatch(ctx, tmpl, id, c.Priority == takedown.PriorityHigh)
	if err != nil {
		return err
	}
	if redelivered {
		if err := s.ensureFlush(ctx, ref); err != nil {
			return err
		}
	}
	s.log.Info("case routed", "case_id", id, "route", p.routing.Kind, "level", p.notice.Level, "country", p.routing.Country, "notice", ref, "after", req.Failed)
	return nil
}

// ensureFlush queues the flush of a notice that is not done and has none
// pending: only whoever creates a notice queues its flush, and a creator
// that died (or lost NATS) right after the create left it without one —
// then the notice, and every case that joined it, would wait for ever. A
// flush already pending is left alone, so a notice never has two.
func (s *Stage) ensureFlush(ctx context.Context, ref string) error {
	pending, err := s.store.WorkPending(ctx, stageFlush, ref)
	if err != nil || pending {
		return err
	}
	rec, _, err := s.rec.notices.Get(ctx, ref)
	if err != nil || rec.State.Done() {
		return err
	}
	s.log.Info("notice had no flush queued: queued now", "notice", ref)
	return s.store.Enqueue(ctx, stageFlush, ref, "flush-"+ref+"-again-"+s.now().UTC().Format("20060102T150405.000000000"), nil)
}

// failing is every address the case must not be sent to: those that
// failed for its own notices (Routing.Failing) and those that bounced for
// good for any case (contact health).
func (s *Stage) failing(ctx context.Context, c takedown.Case) ([]string, error) {
	var out []string
	if c.Routing != nil {
		for _, a := range c.Routing.Failing {
			out = appendFold(out, strings.ToLower(a))
		}
	}
	if s.opts.Health == nil || c.Enrichment == nil {
		return out, nil
	}
	marked, err := s.opts.Health.Failing(ctx, contactEmails(c))
	if err != nil {
		return nil, err
	}
	for _, a := range marked {
		out = appendFold(out, a)
	}
	return out, nil
}

// contactEmails lists every address the case's enrichment names.
func contactEmails(c takedown.Case) []string {
	e := c.Enrichment
	var out []string
	for _, ct := range e.Contacts {
		out = append(out, ct.Email)
	}
	if e.CDN != nil && e.CDN.Contact != nil {
		out = append(out, e.CDN.Contact.Email)
	}
	if e.Registrar != nil && e.Registrar.Abuse != nil {
		out = append(out, e.Registrar.Abuse.Email)
	}
	return out
}

func sameRouting(a *takedown.Routing, b takedown.Routing) bool {
	return a != nil && a.Kind == b.Kind && a.Partner == b.Partner &&
		slices.EqualFunc(a.Contacts, b.Contacts, func(x, y takedown.Contact) bool { return strings.EqualFold(x.Email, y.Email) })
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

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func appendFold(list []string, s string) []string {
	if s == "" || containsFold(list, s) {
		return list
	}
	return append(list, s)
}
