package recheck

import (
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Policy is the decision code of re-checks on its own: when a case's
// checks fall, and what one check that found a verdict decides, with no
// store, prober or clock around it. Recheck runs exactly this code on
// every check; a simulation (pkg/simnet/cadence) drives it with a virtual
// clock to see what a cadence costs and how fast it confirms a removal.
type Policy struct{ p policy }

// NewPolicy is the policy of cfg, as a Recheck built from cfg uses it.
func NewPolicy(cfg config.Recheck) Policy { return Policy{newPolicy(cfg)} }

// Decision is what one check decided beyond the changes it made to the
// case.
type Decision struct {
	// Next is when the next check is due; zero when the case closed.
	Next time.Time
	// Removed, Reopened and Closed say whether the check confirmed a
	// removal, reopened the case or closed it.
	Removed, Reopened, Closed bool
	// Notify are the reminders, escalations and reappearance notices the
	// check asked the notify stage for.
	Notify []takedown.NotifyRequest
	// Events are what the check writes to the case's timeline.
	Events []takedown.Event
}

// FirstCheck is when the first check of the case id, noticed at
// noticeAt, falls when its re-checks begin at now (Recheck.Begin).
func (p Policy) FirstCheck(id string, noticeAt, now time.Time) time.Time {
	return p.p.nextSlot(id, noticeAt, now)
}

// Check records on c the probe result a scheduled check found at now and
// returns what it decided, as Recheck.Check does. c must be watched (its
// notice or forward on it, as the notify stage records it); the caller
// plays the notify stage, adding the notices it asks for to c.Notices
// when they go out.
func (p Policy) Check(c *takedown.Case, res probe.Result, now time.Time) Decision {
	out := p.p.apply(c, res, now, triggerSchedule)
	d := Decision{Next: out.next, Removed: out.removed, Reopened: out.reopened, Closed: out.closed, Events: out.events}
	for _, s := range out.notify {
		d.Notify = append(d.Notify, s.req)
	}
	return d
}
