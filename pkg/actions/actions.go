// Package actions carries out what people do to cases through the API
// (POST /v1/cases/{id}/actions, takedownctl's verbs): re-check now, retry
// enrichment, route to a contact or partner hotline, add a contact (for
// the case, or remembered for its hoster), report a removal, pause and
// resume notices, close, and a partner hotline's status report. A
// validated request (Decode) becomes a change of the case by
// compare-and-set (store.Update), with an event that names the acting
// token, and units of work for the stages (store.Enqueue): an action never
// calls a stage. Whether the token may see the case and take the action is
// the API's to check (package scope) before Do.
package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Rememberer keeps contacts for hosters (*kvbook.Book is one).
type Rememberer interface {
	Remember(ctx context.Context, r kvbook.Record) (kvbook.Record, error)
}

var _ Rememberer = (*kvbook.Book)(nil)

// Options are what the service needs.
type Options struct {
	Store *store.Store
	// Partners is the partner directory by country, the hotline's own
	// country left out (what routing forwards to).
	Partners map[string]route.Partner
	// Contacts keeps remembered contacts; nil refuses remember.
	Contacts Rememberer
	// MaxPause bounds how far ahead a pause may end.
	MaxPause time.Duration
	Now      func() time.Time
	Log      *slog.Logger
}

// Service carries out actions.
type Service struct {
	opts Options
	st   *store.Store
	now  func() time.Time
	log  *slog.Logger
}

// New returns the service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = opts.Store.Now
	}
	return &Service{opts: opts, st: opts.Store, now: opts.Now, log: opts.Log}
}

// Actor is who acts: the token's name, and whether it is outside the
// hotline (a partner or hoster, whose re-checks are held to one a minute
// per case).
type Actor struct {
	Name     string
	External bool
}

// Result is what an action did.
type Result struct {
	// Case is the case after the action.
	Case takedown.Case `json:"-"`
	// Event is the action's event on the case's timeline.
	Event takedown.Event `json:"event"`
	// Work is what the action asked of the stages: "check", "enrich",
	// "route".
	Work []string `json:"work"`
	// Note says what follows, for the person.
	Note string `json:"note,omitempty"`
}

// RefusedError is an action that does not fit the case as it stands.
type RefusedError struct {
	CaseID string
	State  takedown.State
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("case %s is %s: %s", e.CaseID, e.State, e.Reason)
}

func refused(c *takedown.Case, format string, args ...any) error {
	return &RefusedError{CaseID: c.ID, State: c.State, Reason: fmt.Sprintf(format, args...)}
}

// Do carries out the action on the case. Errors: *FieldError for a
// request that does not fit (400), *RefusedError for a case it does not
// fit (409), store.ErrNotFound for no such case.
func (s *Service) Do(ctx context.Context, caseID string, by Actor, req Request) (Result, error) {
	if err := req.check(); err != nil {
		return Result{}, err
	}
	a := &act{s: s, id: caseID, by: by, req: req, now: s.now().UTC()}
	a.ev = takedown.Event{
		ID: "action-" + caseID + "-" + req.Action + "-" + strconv.FormatInt(a.now.UnixNano(), 10), CaseID: caseID,
		At: a.now, Actor: by.Name, Reason: firstOf(req.Reason, req.Note),
	}
	var err error
	switch req.Action {
	case takedown.ActionCheck:
		err = a.check()
	case takedown.ActionRetryEnrich:
		err = a.retryEnrichment()
	case takedown.ActionRoute:
		err = a.route()
	case takedown.ActionAddContact:
		err = a.addContact(ctx)
	case takedown.ActionMarkRemoved:
		err = a.markRemoved()
	case takedown.ActionPause:
		err = a.pause()
	case takedown.ActionResume:
		err = a.resume()
	case takedown.ActionClose:
		err = a.close(ctx)
	case takedown.ActionPartnerStatus:
		err = a.partnerStatus()
	default:
		err = fieldErr("action", "unknown action %q", req.Action)
	}
	if err != nil {
		return Result{}, err
	}
	c, err := s.st.Update(ctx, caseID, a.update)
	if err != nil {
		return Result{}, err
	}
	res := Result{Case: c, Event: a.event, Note: a.note}
	for _, w := range a.work {
		if err := s.st.Enqueue(ctx, w.stage, caseID, w.dedup, w.body); err != nil {
			return res, err
		}
		res.Work = append(res.Work, w.stage)
	}
	s.log.Info("action taken", "case_id", caseID, "action", req.Action, "by", by.Name, "state", c.State, "work", res.Work)
	return res, nil
}

// act is one action being carried out: update is its change of the case
// (run again after a lost compare-and-set, so it sets event, work and
// note afresh each time), ev the event it fills in.
type act struct {
	s   *Service
	id  string
	by  Actor
	req Request
	now time.Time
	ev  takedown.Event

	update func(c *takedown.Case) ([]takedown.Event, error)
	event  takedown.Event
	work   []unit
	note   string
	// changed is set by an update that changes the case beyond its state.
	changed bool
}

// unit is a unit of work for a stage.
type unit struct {
	stage, dedup string
	body         []byte
}

// change sets the update: fn changes the case and returns the event's
// type and data; the event records the move, if any.
func (a *act) change(fn func(c *takedown.Case) (takedown.EventType, any, error)) {
	a.update = func(c *takedown.Case) ([]takedown.Event, error) {
		a.work, a.note, a.changed = nil, "", false
		from := c.State
		typ, data, err := fn(c)
		if err != nil {
			return nil, err
		}
		ev := a.ev
		ev.Type = typ
		if c.State != from {
			ev.From, ev.To = from, c.State
		}
		a.event = ev.WithData(data)
		if c.State == from && !a.changed {
			return []takedown.Event{a.event}, store.ErrNoChange
		}
		return []takedown.Event{a.event}, nil
	}
}

// enqueue asks a stage for work on the case, once per action.
func (a *act) enqueue(stage string, v any) error {
	return a.enqueueAs(stage, stage+"-action-"+a.id+"-"+strconv.FormatInt(a.now.UnixNano(), 10), v)
}

func (a *act) enqueueAs(stage, dedup string, v any) error {
	var body []byte
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", stage, err)
		}
		body = b
	}
	a.work = append(a.work, unit{stage: stage, dedup: dedup, body: body})
	return nil
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
