package takedown

// No open case without a next step.
//
// The promise of takedownd is that a confirmed URL is watched until the
// material is gone and stays gone, or a person is asked. So every open
// case always has at least one of:
//
//   - a pending unit of work for the stage its state waits for, on the
//     work queue (TAKEDOWN_WORK: enrich for received, route for enriched;
//     for routed, the flush of the notice that carries it);
//   - a pending check (its schedule in TAKEDOWN_CHECKS, a fired check not
//     yet done, or check work): every watched case (Case.Watched) needs
//     one, in whatever state, and an unresolvable case's slow retry is one;
//   - an entry in a person's queue with a reason: review (and
//     not_actionable, which no notice can change) with its state_reason.
//
// Beside its next step, an open case whose enrichment waits for the levels
// above its hoster (Enrichment.EscalationPending) has its escalate work
// pending, or escalation would find no one to escalate to.
//
// NextStep checks it for one case against what the store holds; the
// reconciler (package reconcile) walks the open cases, repairs what is
// missing and records the repair on the case's timeline.

// Pending is what the store holds for a case besides the case itself.
type Pending struct {
	// Work lists the stages with a unit of work for the case in the work
	// queue (enrich, route, notify, check).
	Work []string
	// Check: a re-check is pending (a schedule, or a fired check not yet
	// done). Check work counts too: it plans one.
	Check bool
	// Notice: a notice that names the case is on its way (its flush work
	// is pending); what a routed case waits for.
	Notice bool
}

// Missing is a next step an open case lacks.
type Missing string

// The next steps a case can lack.
const (
	MissingEnrich Missing = "enrich" // a received case has no enrich work
	MissingRoute  Missing = "route"  // an enriched case has no route work
	MissingNotice Missing = "notice" // a routed case has no notice on its way
	MissingRetry  Missing = "retry"  // an unresolvable case has neither enrich work nor its slow retry
	MissingCheck  Missing = "check"  // a watched case has no pending check
	MissingReason Missing = "reason" // a case in a person's queue says nothing of why
	// MissingEscalation: the enrichment waits for the levels above the
	// hoster, and no escalate work is pending to look them up.
	MissingEscalation Missing = "escalation"
)

// The stage names of the work queue, as Pending.Work lists them. They are
// the store's (store.StageEnrich …); the domain names them so that the
// rule below can be read, and tested, alone.
const (
	WorkEnrich = "enrich"
	WorkRoute  = "route"
	WorkNotify = "notify"
	WorkCheck  = "check"
	// WorkEscalate looks up what only escalation needs (registrar, parent
	// network, AS) after the first notice went: a stage of its own, so
	// that a registrar's rate limit never holds up a first notice.
	WorkEscalate = "escalate"
)

// NextStep returns what the open case c lacks, given what the store holds
// for it, in the order a repair should give it; nil when the case has its
// next step (and for a closed case, which needs none).
func NextStep(c Case, p Pending) []Missing {
	if !c.State.Open() {
		return nil
	}
	has := func(stage string) bool {
		for _, s := range p.Work {
			if s == stage {
				return true
			}
		}
		return false
	}
	check := p.Check || has(WorkCheck)
	var out []Missing
	switch c.State {
	case StateReceived:
		if !has(WorkEnrich) {
			out = append(out, MissingEnrich)
		}
	case StateEnriched:
		if !has(WorkRoute) && !has(WorkEnrich) {
			out = append(out, MissingRoute)
		}
	case StateRouted:
		if !p.Notice && !has(WorkRoute) && !has(WorkEnrich) {
			out = append(out, MissingNotice)
		}
	case StateUnresolvable:
		if !c.Watched() && !has(WorkEnrich) && !check {
			out = append(out, MissingRetry)
		}
	case StateReview, StateNotActionable:
		if c.StateReason == "" {
			out = append(out, MissingReason)
		}
	}
	if c.Watched() && !check {
		out = append(out, MissingCheck)
	}
	if c.Enrichment != nil && c.Enrichment.EscalationPending && !has(WorkEscalate) {
		out = append(out, MissingEscalation)
	}
	return out
}
