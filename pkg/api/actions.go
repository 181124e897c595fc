package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/takedownd/takedownd/pkg/actions"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Doer carries out actions on cases (*actions.Service is one).
type Doer interface {
	Do(ctx context.Context, caseID string, by actions.Actor, req actions.Request) (actions.Result, error)
}

var _ Doer = (*actions.Service)(nil)

// ServeActions adds POST /v1/cases/{id}/actions and its older form for a
// re-check, POST /v1/cases/{id}/check, carried out by d.
func (s *Server) ServeActions(d Doer) {
	s.acts = d
	s.Handle(Route{Method: http.MethodPost, Path: "/v1/cases/{id}/actions", Roles: Actors,
		Summary: "an action on a case (JSON body with action: " + strings.Join(takedown.Actions, ", ") + ")"}, s.postAction)
	s.Handle(Route{Method: http.MethodPost, Path: "/v1/cases/{id}/check", Roles: Checkers,
		Summary: "an immediate re-check (the check action)"}, func(w http.ResponseWriter, r *http.Request) error {
		return s.act(w, r, actions.Request{Action: takedown.ActionCheck})
	})
}

// ActionAnswer is the answer to an action: what it recorded and asked
// for, and the case after it as the token sees it.
type ActionAnswer struct {
	Action string         `json:"action"`
	CaseID string         `json:"case_id"`
	State  takedown.State `json:"state"`
	actions.Result
	Case takedown.Case `json:"case"`
}

func (s *Server) postAction(w http.ResponseWriter, r *http.Request) error {
	req, err := actions.Decode(r.Body)
	if err != nil {
		return actionError(err)
	}
	return s.act(w, r, req)
}

// act checks that the token sees the case and may take the action, then
// has it carried out: 202 when it asked a stage for work, 200 when the
// change is all.
func (s *Server) act(w http.ResponseWriter, r *http.Request, req actions.Request) error {
	v := s.view(r)
	id := r.PathValue("id")
	if _, err := v.rawCase(r.Context(), id); err != nil {
		return err
	}
	if !v.sc.MayAct(req.Action) {
		return Errorf(http.StatusForbidden, "token %s (role %s) may not take the action %s", v.sc.Token, v.sc.Role, req.Action)
	}
	res, err := s.acts.Do(r.Context(), id, actions.Actor{Name: v.sc.Token, External: !v.sc.All()}, req)
	if err != nil {
		return actionError(err)
	}
	shown, _ := v.sc.Case(res.Case)
	status := http.StatusOK
	if len(res.Work) > 0 {
		status = http.StatusAccepted
	}
	if res.Work == nil {
		res.Work = []string{}
	}
	writeJSON(w, status, ActionAnswer{Action: req.Action, CaseID: id, State: res.Case.State, Result: res, Case: shown})
	return nil
}

// actionError maps the action's errors to answers: 400 naming the field,
// 409 with the case's state.
func actionError(err error) error {
	var fe *actions.FieldError
	var re *actions.RefusedError
	switch {
	case errors.As(err, &fe):
		return &Error{Status: http.StatusBadRequest, Msg: fe.Error(), Body: map[string]string{"error": fe.Error(), "field": fe.Field}}
	case errors.As(err, &re):
		return &Error{Status: http.StatusConflict, Msg: re.Error(), Body: map[string]any{"error": re.Error(), "case_id": re.CaseID, "state": re.State, "reason": re.Reason}}
	}
	var te *takedown.TransitionError
	if errors.As(err, &te) {
		return &Error{Status: http.StatusConflict, Msg: te.Error(), Body: map[string]any{"error": te.Error(), "state": te.From}}
	}
	return err
}
