package actions

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Each action below sets a.update (through change): the change of the
// case and its event, and the work that follows. Work that depends on the
// case's state is decided inside the update, on the case as written.

// data is an action event's data: the request, without empty fields.
func (a *act) data(extra map[string]any) map[string]any {
	d := map[string]any{"action": a.req.Action}
	for k, v := range map[string]string{"reason": a.req.Reason, "note": a.req.Note} {
		if v != "" {
			d[k] = v
		}
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func notClosed(c *takedown.Case) error {
	if !c.State.Open() {
		return refused(c, "it is closed; a new report of the URL opens a new case")
	}
	return nil
}

// check asks for a probe now. A case nobody was told about is not being
// checked; an unresolvable one gets a fresh attempt at resolving it.
func (a *act) check() error {
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if !c.Checkable() && c.State != takedown.StateUnresolvable {
			return "", nil, refused(c, "no notice went out, so nothing is being checked (route it, or close it)")
		}
		return takedown.EventCheckRequested, a.data(nil), a.checkNow()
	})
	return nil
}

// checkNow queues an immediate check. An outside party's requests within
// the same minute are one.
func (a *act) checkNow() error {
	at := a.now
	if a.by.External {
		at = at.Truncate(time.Minute)
	}
	req := takedown.CheckRequest{Kind: takedown.CheckNow, At: at, By: a.by.Name}
	return a.enqueueAs(store.StageCheck, req.DedupID(a.id), req)
}

// retryEnrichment looks the host up again; routing follows. A case that
// was not actionable opens again for it.
func (a *act) retryEnrichment() error {
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if c.State == takedown.StateRemoved {
			return "", nil, refused(c, "the removal is confirmed and its checks go on: nothing to enrich (check it instead)")
		}
		if c.State == takedown.StateNotActionable {
			if err := c.MoveTo(takedown.StateReceived, "enrichment retried by "+a.by.Name, a.now); err != nil {
				return "", nil, err
			}
		}
		return takedown.EventEnrichRequested, a.data(nil), a.enqueue(store.StageEnrich, takedown.EnrichRequest{Reason: takedown.EnrichAction, At: a.now})
	})
	return nil
}

// route records a person's choice of contact or partner hotline and has
// the case routed by it. A case without enrichment is enriched as well
// (its notice then carries what enrichment finds).
func (a *act) route() error {
	if p := a.req.Partner; p != "" {
		partner, ok := a.s.opts.Partners[strings.ToUpper(p)]
		if !ok || partner.Disabled || partner.Address == "" {
			return fieldErr("partner", "no partner hotline for %q takes forwards (route.partners_file)", p)
		}
	}
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if c.State == takedown.StateRemoved {
			return "", nil, refused(c, "the removal is confirmed: nobody needs telling")
		}
		ch := takedown.RouteChoice{Reason: a.req.Reason, By: a.by.Name, At: a.now, Partner: strings.ToUpper(a.req.Partner)}
		data := map[string]any{}
		if ct := a.req.Contact; ct != nil {
			contact := a.contact(*ct, a.req.Reason)
			ch.Contact = &contact
			data["contact"] = ct
		} else {
			data["partner"] = ch.Partner
		}
		choice := takedown.NewRouteChoice(ch, c.Enrichment)
		c.RouteTo, a.changed = &choice, true
		return takedown.EventRouteChosen, a.data(data), a.reroute(c)
	})
	return nil
}

// reroute has the case routed again: moved to enriched, where the route
// stage takes it, and route work queued. A case without enrichment (or
// one that may not move to enriched: not actionable) is enriched first,
// and routing follows the enrichment; the enrich stage records nothing
// for a case that is enriched already, so it is not moved there.
func (a *act) reroute(c *takedown.Case) error {
	if c.Enrichment == nil || !c.State.CanMoveTo(takedown.StateEnriched) {
		if !c.State.CanMoveTo(takedown.StateEnriched) {
			if err := c.MoveTo(takedown.StateReceived, "to be enriched and routed as "+a.by.Name+" asked", a.now); err != nil {
				return err
			}
		}
		a.note = "the case is enriched first; routing follows"
		return a.enqueue(store.StageEnrich, takedown.EnrichRequest{Reason: takedown.EnrichAction, At: a.now})
	}
	if err := c.MoveTo(takedown.StateEnriched, "to be routed as "+a.by.Name+" asked", a.now); err != nil {
		return err
	}
	return a.enqueue(store.StageRoute, nil)
}

// contact is a person's contact as the case keeps it.
func (a *act) contact(ct Contact, note string) takedown.Contact {
	return takedown.Contact{
		Email: ct.Email, Name: ct.Name, Role: "hoster", Language: ct.Language,
		Source: takedown.Source{Kind: takedown.SourceManual, Handle: a.by.Name, Note: note},
	}
}

// addContact adds a contact to the case, in front of the ones found, and
// with remember keeps it for the case's hoster (its domain, network or AS)
// in the runtime contact book, which later enrichments consult. A case in
// review is routed again at once; an enriched one is being routed anyway.
func (a *act) addContact(ctx context.Context) error {
	var rec *kvbook.Record
	if a.req.Remember != "" {
		if a.s.opts.Contacts == nil {
			return fieldErr("remember", "no runtime contact book in this daemon")
		}
		c, _, err := a.s.st.GetCase(ctx, a.id)
		if err != nil {
			return err
		}
		kind, match, err := rememberBy(c, a.req.Remember)
		if err != nil {
			return err
		}
		r, err := a.s.opts.Contacts.Remember(ctx, kvbook.Record{
			Kind: kind, Match: match, Emails: []string{a.req.Contact.Email}, Name: a.req.Contact.Name,
			Language: a.req.Contact.Language, Note: a.req.Note, By: a.by.Name, At: a.now, Case: a.id,
		})
		if err != nil {
			return fieldErr("contact", "%v", err)
		}
		rec = &r
	}
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		c.AddContact(a.contact(*a.req.Contact, a.req.Note))
		a.changed = true
		data := map[string]any{"contact": a.req.Contact}
		if rec != nil {
			data["remember"], data["key"] = a.req.Remember, rec.Key()
		}
		switch c.State {
		case takedown.StateReview:
			return takedown.EventContactAdded, a.data(data), a.reroute(c)
		case takedown.StateEnriched:
			return takedown.EventContactAdded, a.data(data), a.enqueue(store.StageRoute, nil)
		}
		a.note = "kept for the next routing; to tell it now, route to it"
		return takedown.EventContactAdded, a.data(data), nil
	})
	return nil
}

// rememberBy is what a contact remembered for the case's hoster is keyed
// by: the registrable domain (or host), the most specific network that
// holds the case's first address, or that address's AS.
func rememberBy(c takedown.Case, by string) (string, string, error) {
	e := c.Enrichment
	switch by {
	case RememberDomain:
		d := c.Domain
		if d == "" {
			d = c.Host
		}
		if d == "" || e != nil && e.IPLiteral {
			return "", "", refused(&c, "its URL has no domain to remember the contact by")
		}
		return contactbook.KindDomain, strings.ToLower(d), nil
	case RememberNetwork:
		if e == nil || len(e.Addresses) == 0 {
			return "", "", refused(&c, "no address is known to remember the contact by its network")
		}
		ip, err := netip.ParseAddr(e.Addresses[0].IP)
		if err != nil {
			return "", "", refused(&c, "its first address %q does not parse", e.Addresses[0].IP)
		}
		best := netip.Prefix{}
		for _, n := range e.Networks {
			for _, cidr := range n.CIDRs {
				p, err := netip.ParsePrefix(cidr)
				if err == nil && p.Contains(ip) && (!best.IsValid() || p.Bits() > best.Bits()) {
					best = p.Masked()
				}
			}
		}
		if !best.IsValid() {
			return "", "", refused(&c, "no network with a CIDR holds %s (remember it by asn or domain)", ip)
		}
		return contactbook.KindNetwork, best.String(), nil
	case RememberASN:
		if e == nil || len(e.Addresses) == 0 || e.Addresses[0].ASN == 0 {
			return "", "", refused(&c, "no AS is known for its address (remember it by network or domain)")
		}
		return contactbook.KindASN, strconv.FormatUint(uint64(e.Addresses[0].ASN), 10), nil
	}
	return "", "", fieldErr("remember", "%q: want domain, network or asn", by)
}

// markRemoved records that someone says the material is gone and asks for
// a check now: only re-checks confirm a removal.
func (a *act) markRemoved() error {
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if c.State == takedown.StateRemoved {
			return "", nil, refused(c, "its removal is confirmed already")
		}
		if !c.Checkable() {
			return "", nil, refused(c, "no notice went out, so nothing is being checked (close it as not actionable if it is gone)")
		}
		a.note = "the removal counts once re-checks confirm it"
		return takedown.EventRemovalReported, a.data(nil), a.checkNow()
	})
	return nil
}

// pause holds the case's notices until a time. A case whose first notice
// is queued but not yet sealed is routed again, so that its routing — the
// notify stage holds it — waits out the pause.
func (a *act) pause() error {
	until, err := a.req.until(a.now)
	if err != nil {
		return err
	}
	switch {
	case !until.After(a.now):
		return fieldErr("until", "%s is not in the future", until.UTC().Format(time.RFC3339))
	case a.s.opts.MaxPause > 0 && until.Sub(a.now) > a.s.opts.MaxPause:
		return fieldErr("until", "%s is more than %s ahead (api.max_pause)", until.UTC().Format(time.RFC3339), a.s.opts.MaxPause)
	}
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		c.Pause = &takedown.Pause{Reason: a.req.Reason, Until: until.UTC(), By: a.by.Name, At: a.now}
		a.changed = true
		data := a.data(map[string]any{"until": until.UTC()})
		a.note = "re-checks go on; what comes due waits until the pause ends"
		if c.State == takedown.StateRouted && !firstNoticeSealed(*c) {
			if err := c.MoveTo(takedown.StateEnriched, "notices paused by "+a.by.Name, a.now); err != nil {
				return "", nil, err
			}
			return takedown.EventNoticesPaused, data, a.enqueue(store.StageRoute, nil)
		}
		return takedown.EventNoticesPaused, data, nil
	})
	return nil
}

// firstNoticeSealed reports whether a first notice or forward of the case
// is past its batching window and on its way (sealed, being sent): too
// late to hold. Earlier ones that went out or failed do not count: the
// one queued now is still in its batch.
func firstNoticeSealed(c takedown.Case) bool {
	for _, n := range c.Notices {
		if (n.Kind == takedown.NoticeKindFirst || n.Kind == takedown.NoticeKindForward) && n.Outcome == "sending" {
			return true
		}
	}
	return false
}

// resume lifts a pause: a case waiting to be routed is routed now, and
// follow-ups held go out within the notify stage's hold step (a minute).
func (a *act) resume() error {
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if !c.NoticesPaused(a.now) {
			return "", nil, refused(c, "its notices are not paused")
		}
		c.Pause, a.changed = nil, true
		a.note = "held notices go out within a minute"
		if c.State == takedown.StateEnriched || c.State == takedown.StateRouted {
			return takedown.EventNoticesResumed, a.data(nil), a.enqueue(store.StageRoute, nil)
		}
		return takedown.EventNoticesResumed, a.data(nil), nil
	})
	return nil
}

// close ends the case: not actionable, or a duplicate of another case.
// Its checks stop at their next turn; a new report of the URL opens a new
// case.
func (a *act) close(ctx context.Context) error {
	reason := a.req.Reason
	data := map[string]any{"as": a.req.As}
	if a.req.As == CloseDuplicate {
		dup := a.req.DuplicateOf
		if dup == a.id {
			return fieldErr("duplicate_of", "a case does not duplicate itself")
		}
		if !store.ValidCaseID(dup) {
			return fieldErr("duplicate_of", "%q is not a case id", dup)
		}
		if _, _, err := a.s.st.GetCase(ctx, dup); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fieldErr("duplicate_of", "no case %s", dup)
			}
			return err
		}
		data["duplicate_of"] = dup
		reason = "duplicate of " + dup + ": " + reason
	} else {
		reason = "not actionable: " + reason
	}
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		return takedown.EventClosed, a.data(data), c.MoveTo(takedown.StateClosed, fmt.Sprintf("closed by %s as %s", a.by.Name, reason), a.now)
	})
	return nil
}

// partnerStatus records what the partner hotline a case was forwarded to
// reports: removed (a check follows), in progress, or not illegal in its
// country (the case goes to review: the hotline decides whom else to
// tell).
func (a *act) partnerStatus() error {
	a.change(func(c *takedown.Case) (takedown.EventType, any, error) {
		if err := notClosed(c); err != nil {
			return "", nil, err
		}
		if !forwarded(*c) {
			return "", nil, refused(c, "it was not forwarded to a partner hotline")
		}
		data := a.data(map[string]any{"status": a.req.Status})
		switch a.req.Status {
		case StatusRemoved:
			if c.State == takedown.StateRemoved || !c.Checkable() {
				return takedown.EventPartnerStatus, data, nil
			}
			a.note = "the removal counts once re-checks confirm it"
			return takedown.EventPartnerStatus, data, a.checkNow()
		case StatusNotIllegal:
			if c.State.CanMoveTo(takedown.StateReview) && c.State != takedown.StateReview {
				why := "the partner hotline (" + a.by.Name + ") reports the material is not illegal in its country"
				if a.req.Note != "" {
					why += ": " + a.req.Note
				}
				a.note = "the case is in the review queue: route it to the hoster, or close it"
				return takedown.EventPartnerStatus, data, c.MoveTo(takedown.StateReview, why, a.now)
			}
		}
		return takedown.EventPartnerStatus, data, nil
	})
	return nil
}

// forwarded reports whether a forward of the case went to a partner.
func forwarded(c takedown.Case) bool {
	for _, n := range c.Notices {
		if n.Kind == takedown.NoticeKindForward || n.Level == takedown.NoticeLevelPartner {
			return true
		}
	}
	return false
}
