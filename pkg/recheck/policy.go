package recheck

import (
	"hash/fnv"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// policy is the re-check configuration in the form the decisions use.
type policy struct {
	cadence         []time.Duration
	every           time.Duration
	early           config.Early
	spread          time.Duration
	staysSpread     time.Duration
	recordUnchanged time.Duration
	confirmGone     int
	confirmSpacing  time.Duration
	staysGone       []time.Duration
	refreshHoster   time.Duration
	routes          map[string]config.Escalation
}

func newPolicy(cfg config.Recheck) policy {
	// The spread stays below the cadence's finest step, so that it never
	// delays a check by more than the cadence itself would.
	spread := cfg.Spread
	if len(cfg.Cadence) > 0 {
		spread = min(spread, cfg.Cadence[0])
	}
	if cfg.Early.Every > 0 {
		spread = min(spread, cfg.Early.Every)
	}
	// The "stays gone" checks are shifted too (staysGoneSlot), when the
	// spread is on: by up to staysGoneShift, and by less than the gap
	// before each, so that they stay in order.
	staysSpread := time.Duration(0)
	if spread > 0 {
		staysSpread = staysGoneShift
	}
	for i, off := range cfg.StaysGone {
		gap := off
		if i > 0 {
			gap -= cfg.StaysGone[i-1]
		}
		staysSpread = min(staysSpread, gap)
	}
	return policy{
		cadence: cfg.Cadence, every: cfg.Every, early: cfg.Early, spread: spread, staysSpread: staysSpread,
		recordUnchanged: cfg.RecordUnchanged,
		confirmGone:     max(cfg.ConfirmGone, 1),
		confirmSpacing:  cfg.ConfirmSpacing, staysGone: cfg.StaysGone,
		refreshHoster: cfg.RefreshHoster, routes: cfg.Routes,
	}
}

// minGap keeps a computed next check from landing in the past or on top
// of the check that computed it, whatever the clocks say.
const minGap = time.Second

// nextSlot is the first check time after now for the case id whose
// cadence counts from base: the earlier of the next cadence slot and the
// next early check, both shifted by the case's offset (slotOffset). A
// slot less than minGap away is kept, minGap from now: skipping it could
// skip the check a reminder is due at.
func (p policy) nextSlot(id string, base, now time.Time) time.Time {
	base = base.Add(slotOffset(id, p.spread))
	next := p.cadenceSlot(base, now)
	if t, ok := p.earlySlot(base, now); ok && t.Before(next) {
		next = t
	}
	if floor := now.Add(minGap); next.Before(floor) {
		next = floor
	}
	return next
}

// cadenceSlot is the first cadence slot after now, counted from base:
// the configured offsets, then every p.every after the last offset.
func (p policy) cadenceSlot(base, now time.Time) time.Time {
	for _, off := range p.cadence {
		if t := base.Add(off); t.After(now) {
			return t
		}
	}
	last := base
	if n := len(p.cadence); n > 0 {
		last = base.Add(p.cadence[n-1])
	}
	k := now.Sub(last)/p.every + 1
	return last.Add(k * p.every)
}

// earlySlot is the first early check after now, counted from base, and
// false when early checks are off or over: they fall at base + k·every
// up to base + until.
func (p policy) earlySlot(base, now time.Time) (time.Time, bool) {
	every := p.early.Every
	if every <= 0 {
		return time.Time{}, false
	}
	t := base
	if !now.Before(base) {
		t = base.Add((now.Sub(base)/every + 1) * every)
	}
	if t.After(base.Add(p.early.Until)) {
		return time.Time{}, false
	}
	return t, true
}

// slotOffset is how far the case id's check slots are shifted: a share
// of spread drawn from the id, in whole seconds. The URLs of one notice
// (one hoster) share their cadence base; unshifted, every check of theirs
// would reach the hoster in the same second, far over its per-host
// limit, and hold the prober's workers while the limit makes them wait.
func slotOffset(id string, spread time.Duration) time.Duration {
	secs := int64(spread / time.Second)
	if secs <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64()%uint64(secs)) * time.Second
}

// staysGoneShift bounds the offset of each "stays gone" check: a site
// flapping in spells of up to half of it is found online by about every
// second check.
const staysGoneShift = time.Hour

// staysGoneSlot is the next "stays gone" check of the case id after now,
// counted from the removal time, and false when every one of them has
// passed. Each is shifted by an offset of its own (below staysGoneShift):
// a whole number of days after the removal, a site that flaps in spells
// that divide a day (30 s, 90 s, 10 min) is in the very spell whose
// misses confirmed the removal, and would never be seen back.
func (p policy) staysGoneSlot(id string, removedAt, now time.Time) (time.Time, bool) {
	for i, off := range p.staysGone {
		off += slotOffset(id+"/stays-gone/"+strconv.Itoa(i), p.staysSpread)
		if t := removedAt.Add(off); t.After(now) {
			return t, true
		}
	}
	return time.Time{}, false
}

// cadenceBase is the time the cadence and the reminders count from: the
// latest first notice, forward or reappearance notice the notify stage
// recorded on the case (and did not mark failed), else the routing decision, else receipt.
func cadenceBase(c *takedown.Case) time.Time {
	var base time.Time
	for _, n := range c.Notices {
		if n.Outcome == "failed" {
			continue
		}
		switch n.Kind {
		case "first", "forward", "reappeared", "":
			if n.At.After(base) {
				base = n.At
			}
		}
	}
	if !base.IsZero() {
		return base
	}
	if c.Routing != nil && !c.Routing.At.IsZero() {
		return c.Routing.At
	}
	return c.ReceivedAt
}

// routeKind is the route kind whose escalation policy applies.
func routeKind(c *takedown.Case) string {
	if c.Routing == nil || c.Routing.Kind == "" {
		return takedown.RouteHoster
	}
	return c.Routing.Kind
}

// step is one reminder or escalation that is due.
type step struct {
	req takedown.NotifyRequest
	// dedup makes the notify request idempotent across redeliveries.
	dedup string
}

// dueStep returns the reminder or escalation due at now for a case whose
// material is online, and applies it to cs. Steps fall every
// ReminderInterval after the cadence base; every (RemindersPerLevel+1)th
// step escalates one level up the route's chain while one is left. One
// step at most per check: a late check catches up one step at a time.
func (p policy) dueStep(c *takedown.Case, cs *takedown.CheckState, now time.Time) (step, bool) {
	kind := routeKind(c)
	esc, ok := p.routes[kind]
	if !ok || esc.ReminderInterval <= 0 {
		return step{}, false
	}
	base := cadenceBase(c)
	if cs.Reopened > 0 && !cs.RemovedAt.IsZero() && base.Before(cs.RemovedAt) {
		// Reopened, but the reappearance notice is not on the case yet:
		// a reminder now would overtake it.
		return step{}, false
	}
	n := cs.Reminders + 1
	if now.Before(base.Add(time.Duration(n) * esc.ReminderInterval)) {
		return step{}, false
	}
	cs.Reminders = n
	req := takedown.NotifyRequest{Reminder: n}
	if n%(esc.RemindersPerLevel+1) == 0 && cs.EscalationLvl < len(esc.Escalate) {
		cs.EscalationLvl++
		req.Kind = NotifyEscalation
		// The notify stage quotes the authority's statutory deadline.
		req.Level = esc.Escalate[cs.EscalationLvl-1]
		return step{req: req, dedup: dedupID(c.ID, "escalate", cs.Reopened, cs.EscalationLvl)}, true
	}
	req.Kind = NotifyReminder
	req.Level = kind
	if cs.EscalationLvl > 0 {
		req.Level = esc.Escalate[min(cs.EscalationLvl, len(esc.Escalate))-1]
	}
	return step{req: req, dedup: dedupID(c.ID, "remind", cs.Reopened, n)}, true
}

// currentLevel is whom the case's notices go to now.
func (p policy) currentLevel(c *takedown.Case) string {
	kind := routeKind(c)
	esc := p.routes[kind]
	if c.Checks == nil || c.Checks.EscalationLvl == 0 || len(esc.Escalate) == 0 {
		return kind
	}
	return esc.Escalate[min(c.Checks.EscalationLvl, len(esc.Escalate))-1]
}
