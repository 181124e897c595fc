package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/takedownd/takedownd/pkg/actions"
	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/store"
)

// act takes an action on a case from a form: the form's fields become the
// API's request (actions.Request, the fields left empty left out) and go
// to POST /v1/cases/{id}/actions as the session's token, so that the
// dashboard's actions are the API's, checked and refused by the same
// rules. The outcome is shown on the page the form came from.
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := "/cases/" + id
	if r.PostFormValue("back") == "review" {
		back = "/review"
	}
	if !store.ValidCaseID(id) {
		d.render(w, r, http.StatusNotFound, "error", s, "Not found (or not yours to see).")
		return
	}
	req := formRequest(r)
	var ans api.ActionAnswer
	_, err := d.call(r.Context(), s.scope, http.MethodPost, "/v1/cases/"+id+"/actions", req, &ans)
	var ae *apiError
	switch {
	case err == nil:
		msg := req.Action + " recorded on case " + id + ": it is " + string(ans.State) + " now"
		if ans.Note != "" {
			msg += " (" + ans.Note + ")"
		}
		d.sessions.setFlash(s, flash{Text: msg + "."})
	case errors.As(err, &ae) && ae.Status < 500:
		d.sessions.setFlash(s, flash{Text: req.Action + " refused: " + ae.Msg, Error: true})
	default:
		d.apiFailure(w, r, s, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// formRequest reads an action's form. Only the fields given are set: the
// API refuses a field its action does not take.
func formRequest(r *http.Request) actions.Request {
	f := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	req := actions.Request{
		Action: f("action"), Reason: f("reason"), Note: f("note"), Partner: strings.ToUpper(f("partner")),
		Remember: f("remember"), Until: f("until"), As: f("as"), DuplicateOf: f("duplicate_of"), Status: f("status"),
	}
	if email := f("contact_email"); email != "" {
		req.Contact = &actions.Contact{Email: email, Name: f("contact_name"), Language: f("contact_language")}
	}
	return req
}
