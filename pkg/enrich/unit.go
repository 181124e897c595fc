package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/netrange"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// unit is one delivery of an enrich work message.
type unit struct {
	stage   *Stage
	msg     jetstream.Msg
	caseID  string
	seq     uint64 // stream sequence: ids derived from it survive redelivery
	attempt uint64
	req     takedown.EnrichRequest
	life    context.Context // the stage's run, which outlives a parked unit's handler
}

type action int

const (
	ack action = iota
	nak
	term
	parked // left unsettled: store.Park holds the message
)

// outcome says how to settle the message.
type outcome struct {
	action action
	delay  time.Duration
	reason string
}

func (w *unit) retry(err error) outcome {
	d, _ := pick(w.stage.cfg.Backoff, w.attempt, 5*time.Second)
	w.stage.log.Warn("enrich will retry", "case_id", w.caseID, "attempt", w.attempt, "retry_in", d, "err", err)
	return outcome{action: nak, delay: d}
}

func (w *unit) settle(out outcome) {
	var err error
	switch out.action {
	case ack:
		err = w.msg.Ack()
	case nak:
		err = w.msg.NakWithDelay(out.delay)
	case term:
		err = w.msg.TermWithReason(out.reason)
	case parked:
	}
	if err != nil {
		w.stage.log.Warn("settle enrich work", "case_id", w.caseID, "err", err)
	}
}

// wanted reports whether a case in state s is this unit's to enrich.
func (w *unit) wanted(s takedown.State) bool {
	// Any reason (recheck, moved, refresh) asks to look again at a case
	// that moved on; routing then decides whether anything changed.
	if w.req.Reason != "" {
		return s.Open() && s != takedown.StateNotActionable && s.CanMoveTo(takedown.StateEnriched)
	}
	return s == takedown.StateReceived || s == takedown.StateUnresolvable
}

// loadCase reads the unit's case; when it cannot (false), the outcome
// says how to settle the message. what names the work in logs.
func (w *unit) loadCase(ctx context.Context, what string) (takedown.Case, outcome, bool) {
	c, _, err := w.stage.store.GetCase(ctx, w.caseID)
	if errors.Is(err, store.ErrNotFound) {
		w.stage.log.Error(what+" work for an unknown case", "case_id", w.caseID)
		return c, outcome{action: term, reason: "unknown case"}, false
	}
	if err != nil {
		return c, w.retry(err), false
	}
	return c, outcome{}, true
}

func (w *unit) run(ctx context.Context) outcome {
	c, stop, ok := w.loadCase(ctx, "enrich")
	if !ok {
		return stop
	}
	if !w.wanted(c.State) {
		if c.State == takedown.StateEnriched && w.req.Reason == "" && c.Enrichment != nil {
			// A redelivery after a crash between the update and the
			// hand-over: repeat what followed the update (ids dedup it).
			if err := w.finish(ctx, c, takedown.StateReceived); err != nil {
				return w.retry(err)
			}
		}
		return outcome{action: ack}
	}
	u, err := urlnorm.Parse(c.URL)
	if err != nil {
		return w.record(ctx, takedown.StateReview, "url no longer parses: "+err.Error(), nil)
	}
	if reason := u.NotActionable(); reason != "" {
		return w.record(ctx, takedown.StateNotActionable, reason, nil)
	}
	if w.park(ctx, u) {
		return outcome{action: parked}
	}
	last := w.attempt >= uint64(w.stage.cfg.MaxAttempts)
	enr, err := w.stage.enr.EnrichForNotice(ctx, u)
	if errors.Is(err, ErrIncomplete) && last && !Noticeable(&enr) {
		// The networks stayed silent to the end: the case goes to a
		// person, who needs the registrar and the owner to decide.
		enr, err = w.stage.enr.Enrich(ctx, u)
	}
	if reason := onlyRefused(enr.Addresses); reason != "" && w.req.Reason == "" && (err == nil || errors.Is(err, ErrIncomplete)) {
		// Only at the first enrichment: once a notice went out, a hoster
		// must not end the case by pointing its DNS at 127.0.0.1.
		enr.EscalationPending = false // nobody is noticed, so nobody escalated to
		return w.record(ctx, takedown.StateNotActionable, reason, &enr)
	}
	switch {
	case errors.Is(err, ErrUnresolvable):
		out := w.record(ctx, takedown.StateUnresolvable, "host does not resolve", &enr)
		if out.action != ack || w.req.Reason == takedown.EnrichRetry || c.State != takedown.StateReceived && c.State != takedown.StateUnresolvable {
			// A slow retry is one attempt (re-checks planned the next),
			// and so is a fresh look at a case that was past enrichment:
			// it keeps its state and its own next step.
			return out
		}
		// The material may be gone already, or the name may come back:
		// ask again soon, then slowly. The quick retries wait pending on
		// the consumer (see NewStage); after the last, the case's one
		// schedule in TAKEDOWN_CHECKS carries the slow retry, so the wait
		// costs the consumer nothing however many hosts stay unresolvable.
		if d, ok := pick(w.stage.cfg.UnresolvableRetry, w.attempt, 0); ok && d > 0 {
			return outcome{action: nak, delay: d}
		}
		if err := w.slowRetry(ctx); err != nil {
			return w.retry(err)
		}
		return out
	case errors.Is(err, ErrTemporary) && last:
		w.stage.log.Error("enrich gave up", "case_id", w.caseID, "attempt", w.attempt, "err", err)
		return w.record(ctx, takedown.StateReview, fmt.Sprintf("dns failed %d times: %v", w.attempt, err), nil)
	case errors.Is(err, ErrTemporary), errors.Is(err, ErrIncomplete) && !last:
		return w.retry(err)
	}
	// Success, or RDAP still failing at the last attempt: what is known is
	// recorded with the gaps listed, and routing decides.
	return w.record(ctx, takedown.StateEnriched, summary(&enr).reason(), &enr)
}

// park frees the worker while the networks of the case's addresses are
// looked up in the background, and reports whether it did: the case comes
// back once they are in the cache, and runs to the end then (a case parks
// once per delivery).
func (w *unit) park(ctx context.Context, u urlnorm.URL) bool {
	if w.stage.cfg.MaxParked <= 0 || w.life == nil || store.Unparked(w.msg) {
		return false
	}
	ready := w.stage.enr.HosterPending(ctx, w.life, u)
	return ready != nil && store.Park(w.msg, ready)
}

// onlyRefused says why a host is not actionable when every address it
// resolves to is outside public unicast (the table the prober refuses,
// pkg/netrange), or returns "" when one address is public or none is known.
func onlyRefused(addrs []takedown.AddressInfo) string {
	if len(addrs) == 0 {
		return ""
	}
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		ip, err := netip.ParseAddr(a.IP)
		if err != nil {
			return ""
		}
		class := netrange.Class(ip)
		if class == "" {
			return ""
		}
		parts[i] = a.IP + " (" + class + ")"
	}
	return "host resolves only to addresses that are not public: " + strings.Join(parts, ", ")
}

// record moves the case to state to (with the enrichment, if any) and
// appends the event; for enriched it then hands the case to routing.
func (w *unit) record(ctx context.Context, to takedown.State, reason string, enr *takedown.Enrichment) outcome {
	var from takedown.State
	changed := false
	c, err := w.stage.store.Update(ctx, w.caseID, func(c *takedown.Case) ([]takedown.Event, error) {
		from, changed = c.State, false
		if to == takedown.StateUnresolvable && w.req.Reason != "" && (c.State == to || !c.State.CanMoveTo(to)) {
			// A fresh attempt that found the host unresolvable, of a case
			// that is so already or may not become so (one that was
			// noticed keeps its state and its checks): the timeline says
			// it was tried.
			ev := w.event(to, from, "host does not resolve ("+w.req.Reason+"); the case stays "+string(c.State), enr)
			ev.To = c.State
			return []takedown.Event{ev}, store.ErrNoChange
		}
		if !w.wanted(c.State) || c.State == to {
			// Moved on meanwhile, or a repeated unresolvable try: nothing
			// new to record.
			return nil, store.ErrNoChange
		}
		if enr != nil {
			c.Enrichment = enr
		}
		if err := c.MoveTo(to, reason, w.stage.store.Now().UTC()); err != nil {
			return nil, err
		}
		changed = true
		return []takedown.Event{w.event(to, from, reason, c.Enrichment)}, nil
	})
	if err != nil {
		var te *takedown.TransitionError
		if errors.As(err, &te) {
			w.stage.log.Error("enrich cannot move case", "case_id", w.caseID, "err", err)
			return outcome{action: term, reason: "transition refused"}
		}
		return w.retry(err)
	}
	if !changed {
		return outcome{action: ack}
	}
	w.stage.log.Info("case "+string(to), "case_id", w.caseID, "from", from, "country", c.Enrichment.HostingCountry())
	if to == takedown.StateEnriched {
		if err := w.finish(ctx, c, from); err != nil {
			return w.retry(err)
		}
	}
	return outcome{action: ack}
}

// slowRetry hands an unresolvable case whose quick retries are used up to
// re-checks, which plan its slow retry (enrich.unresolvable_every). The
// id derives from the work message, so a redelivery asks once.
func (w *unit) slowRetry(ctx context.Context) error {
	req := takedown.CheckRequest{Kind: takedown.CheckResume, At: w.stage.store.Now().UTC(), By: Actor}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode check request: %w", err)
	}
	return w.stage.store.Enqueue(ctx, store.StageCheck, w.caseID, fmt.Sprintf("check-resume-%s-unresolvable-%d", w.caseID, w.seq), body)
}

// finish hands an enriched case to routing, and, when its enrichment left
// the levels above the hoster for later, to the escalation stage first:
// a crash after the route work then cannot leave the chain unasked for.
// Every id derives from the work message, so repeating it after a crash
// adds nothing twice.
func (w *unit) finish(ctx context.Context, c takedown.Case, from takedown.State) error {
	if c.Enrichment != nil && c.Enrichment.EscalationPending {
		if err := w.stage.store.Enqueue(ctx, takedown.WorkEscalate, w.caseID, fmt.Sprintf("escalate-%s-%d", w.caseID, w.seq), nil); err != nil {
			return err
		}
	}
	if err := w.stage.store.AppendEvents(ctx, w.event(takedown.StateEnriched, from, c.StateReason, c.Enrichment)); err != nil {
		return err
	}
	return w.stage.store.Enqueue(ctx, store.StageRoute, w.caseID, fmt.Sprintf("route-%s-enriched-%d", w.caseID, w.seq), nil)
}

var eventTypes = map[takedown.State]takedown.EventType{
	takedown.StateEnriched:      takedown.EventEnriched,
	takedown.StateUnresolvable:  takedown.EventUnresolvable,
	takedown.StateNotActionable: takedown.EventNotActionable,
	takedown.StateReview:        takedown.EventReview,
}

func (w *unit) event(to, from takedown.State, reason string, enr *takedown.Enrichment) takedown.Event {
	typ := eventTypes[to]
	ev := takedown.Event{
		ID: fmt.Sprintf("%s-%s-%d", typ, w.caseID, w.seq), CaseID: w.caseID, Type: typ,
		Actor: Actor, Reason: reason, From: from, To: to,
	}
	if enr != nil {
		ev = ev.WithData(summary(enr))
	}
	return ev
}

// Summary is the data of an enriched or unresolvable event: the facts a
// person scanning the timeline wants without opening the case.
type Summary struct {
	Country  string   `json:"country,omitempty"`
	Disagree bool     `json:"country_disagree,omitempty"`
	Hoster   string   `json:"hoster,omitempty"` // first hoster contact
	CDN      string   `json:"cdn,omitempty"`
	Network  string   `json:"network,omitempty"`
	Contacts int      `json:"contacts"`
	CNAMEs   []string `json:"cnames,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

func summary(e *takedown.Enrichment) Summary {
	s := Summary{Country: e.Country.Country, Disagree: e.Country.Disagree, Contacts: len(e.Contacts),
		CNAMEs: e.CNAMEs, Problems: e.Problems}
	for _, c := range e.Contacts {
		if c.Role == RoleHoster {
			s.Hoster = c.Email
			break
		}
	}
	if e.CDN != nil {
		s.CDN = e.CDN.Name
	}
	if len(e.Networks) > 0 {
		s.Network = e.Networks[0].Handle
	}
	return s
}

func (s Summary) reason() string {
	parts := []string{"country " + orNone(s.Country)}
	if s.Disagree {
		parts = append(parts, "geoip and rdap disagree")
	}
	parts = append(parts, "hoster "+orNone(s.Hoster))
	if s.CDN != "" {
		parts = append(parts, "behind cdn "+s.CDN)
	}
	if len(s.Problems) > 0 {
		parts = append(parts, fmt.Sprintf("%d problem(s)", len(s.Problems)))
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
