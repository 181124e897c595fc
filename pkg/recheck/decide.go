package recheck

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// actor is the name events of this stage carry.
const actor = "recheck"

// triggerSchedule is the trigger of a check its schedule fired; any other
// trigger (a person, a reply) asked for the check.
const triggerSchedule = "schedule"

// outcome is what one check decided beyond the case itself: the events to
// append, the next check (zero: none, the case closed), the notify and
// enrich work to enqueue.
type outcome struct {
	events   []takedown.Event
	next     time.Time
	closed   bool
	notify   []step
	reenrich *takedown.EnrichRequest
	removed  bool
	reopened bool
	// recorded is set once the check is on record (Recheck.record): a
	// check may record nothing on the timeline (policy.unchanged).
	recorded bool
}

// checkedData is the data of a "checked" event. Of the final URL only the
// host is kept: a URL points at abuse material.
type checkedData struct {
	Check      int    `json:"check"`
	Verdict    string `json:"verdict"`
	Reason     string `json:"reason"`
	Status     int    `json:"status,omitempty"`
	FinalHost  string `json:"final_host,omitempty"`
	Redirects  int    `json:"redirects,omitempty"`
	TLSError   string `json:"tls_error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Trigger    string `json:"trigger,omitempty"`
	GoneStreak int    `json:"gone_streak,omitempty"`
}

// removedData is the data of a "removed" event.
type removedData struct {
	RemovedAt    time.Time `json:"removed_at"`
	ConfirmedAt  time.Time `json:"confirmed_at"`
	LastOnlineAt time.Time `json:"last_online_at,omitzero"`
	Streak       int       `json:"streak"`
}

// apply records one probe result on the case and decides what follows.
// It is pure (the case, the result and the time in; the changed case and
// the outcome out), so Store.Update may run it again after a lost
// compare-and-set. Inconclusive results neither break nor extend a gone
// streak: a timeout between two 404s says nothing about the material, and
// letting it reset the streak would let a flaky hoster postpone removal
// confirmation for ever.
func (p policy) apply(c *takedown.Case, res probe.Result, now time.Time, trigger string) outcome {
	if c.Checks == nil {
		c.Checks = &takedown.CheckState{}
	}
	cs := c.Checks
	if cs.WatchedSince.IsZero() {
		cs.WatchedSince = now
	}
	prevVerdict, prevAt := cs.LastVerdict, cs.LastCheckedAt
	cs.Checks++
	n := cs.Checks
	cs.LastCheckedAt, cs.LastVerdict = now, string(res.Verdict)
	var out outcome
	ev := func(t takedown.EventType, reason string) takedown.Event {
		return takedown.Event{ID: dedupID(c.ID, string(t), n), CaseID: c.ID, Type: t, At: now, Actor: actor, Reason: reason}
	}
	checked := ev(takedown.EventChecked, string(res.Verdict)+": "+res.Reason)
	data := checkedData{
		Check: n, Verdict: string(res.Verdict), Reason: res.Reason, Status: res.StatusCode,
		FinalHost: hostOf(res.FinalURL), Redirects: res.Redirects, TLSError: res.TLSError,
		DurationMS: res.Duration.Milliseconds(), Trigger: trigger,
	}
	if c.State == takedown.StateRemoved {
		out = p.afterRemoval(c, res, now, ev)
	} else {
		out = p.whileNoticed(c, res, now, prevVerdict, prevAt, ev)
	}
	data.GoneStreak = cs.GoneStreak
	if res.Verdict == probe.Online && c.State != takedown.StateRemoved {
		p.hosterChange(c, res, now, &out, ev)
	}
	if !p.unchanged(out, res, trigger, prevVerdict, prevAt, now) {
		out.events = append([]takedown.Event{checked.WithData(data)}, out.events...)
	}
	cs.NextCheckAt = out.next
	return out
}

// unchanged reports whether a check stays off the timeline
// (recheck.record_unchanged): a scheduled check that found the material
// online, as the check before it did, decided nothing else, and falls in
// the same window as that check. The case records it all the same
// (checks, last_checked_at, last_online_at), and the next "checked" event
// carries the count, so the timeline shows how many checks it stands for.
func (p policy) unchanged(out outcome, res probe.Result, trigger, prevVerdict string, prevAt, now time.Time) bool {
	w := p.recordUnchanged
	return w > 0 && trigger == triggerSchedule && res.Verdict == probe.Online && prevVerdict == string(probe.Online) &&
		len(out.events) == 0 && len(out.notify) == 0 && out.reenrich == nil &&
		now.Truncate(w).Equal(prevAt.Truncate(w))
}

// whileNoticed handles a result for a case whose notice went out.
func (p policy) whileNoticed(c *takedown.Case, res probe.Result, now time.Time, prevVerdict string, prevAt time.Time,
	ev func(takedown.EventType, string) takedown.Event) outcome {
	cs := c.Checks
	var out outcome
	switch res.Verdict {
	case probe.Online:
		cs.LastOnlineAt, cs.GoneStreak, cs.GoneSince = now, 0, time.Time{}
		if s, ok := p.dueStep(c, cs, now); ok && remindable(c.State) {
			out.notify = append(out.notify, s)
			t := takedown.EventReminder
			if s.req.Kind == NotifyEscalation {
				t = takedown.EventEscalated
			}
			out.events = append(out.events, ev(t, s.req.Kind+" to "+s.req.Level).WithData(s.req))
		}
		out.next = p.nextSlot(c.ID, cadenceBase(c), now)
	case probe.Gone:
		switch {
		case cs.GoneStreak == 0:
			cs.GoneStreak, cs.GoneSince = 1, now
		case p.spacedEnough(cs, now, prevVerdict, prevAt):
			cs.GoneStreak++
		}
		if cs.GoneStreak >= p.confirmGone {
			return p.confirmRemoval(c, now, ev)
		}
		out.next = p.confirmAt(cs, now)
	default:
		if cs.GoneStreak > 0 {
			out.next = p.confirmAt(cs, now)
		} else {
			out.next = p.nextSlot(c.ID, cadenceBase(c), now)
		}
	}
	return out
}

// remindable reports whether reminders and escalations follow from an
// online result in state s: while a notice stands (or the first is
// queued). A watched case that is being routed again or waits for a
// person is still checked, but the routing, or the person, decides who is
// told next.
func remindable(s takedown.State) bool {
	return s == takedown.StateNoticed || s == takedown.StateForwarded || s == takedown.StateRouted
}

// spacedEnough reports whether a further gone result counts towards the
// streak: the k-th counted result must come at least k spacings after the
// first, and at least one spacing after the previous gone result, counted
// or not (a burst of on-demand checks confirms nothing).
func (p policy) spacedEnough(cs *takedown.CheckState, now time.Time, prevVerdict string, prevAt time.Time) bool {
	if now.Before(cs.GoneSince.Add(time.Duration(cs.GoneStreak) * p.confirmSpacing)) {
		return false
	}
	return prevVerdict != string(probe.Gone) || now.Sub(prevAt) >= p.confirmSpacing
}

// confirmAt is when the next confirming check of a gone streak is due.
func (p policy) confirmAt(cs *takedown.CheckState, now time.Time) time.Time {
	at := now.Add(p.confirmSpacing)
	if due := cs.GoneSince.Add(time.Duration(cs.GoneStreak) * p.confirmSpacing); due.After(at) {
		at = due
	}
	return at
}

func (p policy) confirmRemoval(c *takedown.Case, now time.Time, ev func(takedown.EventType, string) takedown.Event) outcome {
	cs := c.Checks
	from := c.State
	cs.RemovedAt = cs.GoneSince
	if cs.FirstRemovedAt.IsZero() {
		cs.FirstRemovedAt = cs.RemovedAt
	}
	c.State, c.StateReason, c.UpdatedAt = takedown.StateRemoved, "removal confirmed by re-checks", now
	removed := ev(takedown.EventRemoved, "removal confirmed by re-checks")
	removed.From, removed.To = from, takedown.StateRemoved
	out := outcome{removed: true}
	out.events = append(out.events, removed.WithData(removedData{
		RemovedAt: cs.RemovedAt, ConfirmedAt: now, LastOnlineAt: cs.LastOnlineAt, Streak: cs.GoneStreak,
	}))
	if at, ok := p.staysGoneSlot(c.ID, cs.RemovedAt, now); ok {
		out.next = at
		return out
	}
	return p.close(c, now, ev, out)
}

// afterRemoval handles a result for a removed case: "stays gone" checks,
// closing after the last, reopening when the material is back.
func (p policy) afterRemoval(c *takedown.Case, res probe.Result, now time.Time, ev func(takedown.EventType, string) takedown.Event) outcome {
	cs := c.Checks
	var out outcome
	if res.Verdict == probe.Online {
		to := takedown.StateNoticed
		if routeKind(c) == takedown.RoutePartner {
			to = takedown.StateForwarded
		}
		cs.Reopened++
		// RemovedAt stays: it is the removal that proved wrong, and it
		// holds reminders back until the reappearance notice is out.
		cs.LastOnlineAt, cs.GoneStreak, cs.GoneSince, cs.Reminders = now, 0, time.Time{}, 0
		c.State, c.StateReason, c.UpdatedAt = to, "material reappeared", now
		reopened := ev(takedown.EventReopened, "material reappeared")
		reopened.From, reopened.To = takedown.StateRemoved, to
		// Reminder carries the reopen count, so each reappearance is a
		// request of its own.
		req := takedown.NotifyRequest{Kind: NotifyReappeared, Level: p.currentLevel(c), Reminder: cs.Reopened}
		out.events = append(out.events, reopened.WithData(req))
		out.notify = append(out.notify, step{req: req, dedup: dedupID(c.ID, "reappeared", cs.Reopened)})
		out.reopened = true
		// The reappearance notice goes out now: the cadence starts again
		// from it, early checks included.
		out.next = p.nextSlot(c.ID, now, now)
		return out
	}
	if at, ok := p.staysGoneSlot(c.ID, cs.RemovedAt, now); ok {
		out.next = at
		return out
	}
	// Every "stays gone" check is behind us and this one found nothing
	// online either (a timeout after weeks of absence is no reason to
	// keep a case open).
	return p.close(c, now, ev, out)
}

func (p policy) close(c *takedown.Case, now time.Time, ev func(takedown.EventType, string) takedown.Event, out outcome) outcome {
	from := c.State
	c.State, c.StateReason, c.UpdatedAt = takedown.StateClosed, "stayed gone", now
	closed := ev(takedown.EventClosed, "stayed gone")
	closed.From, closed.To = from, takedown.StateClosed
	out.events = append(out.events, closed)
	out.next, out.closed = time.Time{}, true
	return out
}

// hosterChange asks for re-enrichment when the material answered from an
// address the enrichment does not know (it moved), or when the enrichment
// is older than refreshHoster. Behind a CDN the address says nothing.
func (p policy) hosterChange(c *takedown.Case, res probe.Result, now time.Time, out *outcome, ev func(takedown.EventType, string) takedown.Event) {
	e := c.Enrichment
	if e == nil || e.CDN != nil {
		return
	}
	if ip, ok := remoteIP(res.RemoteAddr); ok && len(e.Addresses) > 0 && !knownAddress(e.Addresses, ip) {
		req := takedown.EnrichRequest{Reason: takedown.EnrichMoved, RemoteIP: ip.String(), At: now}
		out.reenrich = &req
		out.events = append(out.events, ev(takedown.EventMoved, "material answered from an address outside the enrichment").WithData(req))
		return
	}
	if p.refreshHoster > 0 && !e.At.IsZero() && now.Sub(e.At) >= p.refreshHoster {
		out.reenrich = &takedown.EnrichRequest{Reason: takedown.EnrichRefresh, At: now}
	}
}

func remoteIP(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func knownAddress(addrs []takedown.AddressInfo, ip netip.Addr) bool {
	for _, a := range addrs {
		if known, err := netip.ParseAddr(a.IP); err == nil && known.Unmap() == ip {
			return true
		}
	}
	return false
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
