package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// pageNames are the pages, each templates/<name>.html inside the layout.
var pageNames = []string{"login", "overview", "review", "cases", "case", "hosters", "dlq", "error"}

type pageTemplate struct{ t *template.Template }

func parsePages() (map[string]*pageTemplate, error) {
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/shared.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		out[name] = &pageTemplate{t: t}
	}
	return out, nil
}

// page is what the layout needs of every page.
type page struct {
	Name  string
	Title string
	// Who is the logged-in token; nil on the login page.
	Who     *who
	CSRF    string
	Flash   flash
	Refresh int // seconds; 0: no refresh
	Data    any
}

// who is the session's token as the layout shows it.
type who struct {
	Name, Role, Bound string
	DeadLetters       bool
	scope             scope.Scope
}

func whoOf(sc scope.Scope) *who {
	w := &who{Name: sc.Token, Role: string(sc.Role), DeadLetters: sc.SeesDeadLetters(), scope: sc}
	var bound []string
	if sc.Partner != nil {
		bound = append(bound, "partner hotline "+sc.Partner.Country)
	}
	bound = append(bound, sc.Domains...)
	for _, a := range sc.ASNs {
		bound = append(bound, "AS"+strconv.FormatUint(uint64(a), 10))
	}
	w.Bound = strings.Join(bound, ", ")
	return w
}

// May reports whether the token may take the action (the scope's rule,
// which the API applies again).
func (w *who) May(action string) bool { return w.scope.MayAct(action) }

// MayAct reports whether the token may take any action.
func (w *who) MayAct() bool { return w.scope.MayActAtAll() }

var pageTitles = map[string]string{
	"login": "Log in", "overview": "Overview", "review": "Review queue", "cases": "Cases", "case": "Case",
	"hosters": "Hosters", "dlq": "Dead letters", "error": "Error",
}

// render writes a page; s is nil for the login page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, data any) {
	p := page{Name: name, Title: pageTitles[name], Data: data}
	if s != nil {
		p.Who, p.CSRF, p.Flash = whoOf(s.scope), s.csrf, d.sessions.takeFlash(s)
	}
	if name == "overview" {
		p.Refresh = int(d.refresh / time.Second)
	}
	var buf bytes.Buffer
	if err := d.pages[name].t.Execute(&buf, p); err != nil {
		d.log.Error("render dashboard page", "page", name, "err", err)
		d.plainError(w, http.StatusInternalServerError, "This page could not be shown.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// plainError is an error page without a session's layout.
func (d *Dashboard) plainError(w http.ResponseWriter, status int, msg string) {
	var buf bytes.Buffer
	if err := d.pages["error"].t.Execute(&buf, page{Name: "error", Title: http.StatusText(status), Data: msg}); err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// apiFailure shows what the API answered instead of the page.
func (d *Dashboard) apiFailure(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := http.StatusInternalServerError, "The daemon could not answer."
	var ae *apiError
	if errors.As(err, &ae) {
		status, msg = ae.Status, ae.Msg
		if status == http.StatusNotFound {
			msg = "Not found (or not yours to see)."
		}
	}
	if status >= 500 {
		d.log.Error("dashboard page", "path", r.URL.Path, "err", err)
	}
	d.render(w, r, status, "error", s, msg)
}

var funcs = template.FuncMap{
	"dur":   fmtSeconds,
	"pct":   fmtShare,
	"when":  fmtTime,
	"join":  strings.Join,
	"trunc": truncate,
	"forms": formsFor,
}

// actionForms is what the "actions" template needs: the case, the
// token, the session's CSRF token, the page to come back to and the
// actions to offer (of those, the ones the token may take are shown).
type actionForms struct {
	Case    takedown.Case
	Who     *who
	CSRF    string
	Back    string
	Actions []string
	Open    bool
}

// formsFor offers the actions on c (every action when none are named).
func formsFor(p page, c takedown.Case, back string, only ...string) actionForms {
	acts := takedown.Actions
	if len(only) > 0 {
		acts = only
	}
	return actionForms{Case: c, Who: p.Who, CSRF: p.CSRF, Back: back, Actions: acts, Open: c.State != takedown.StateClosed}
}

// fmtSeconds writes a duration in seconds as a person reads it: 45s,
// 3h 12m, 2d 4h; "—" for none.
func fmtSeconds(sec *float64) string {
	if sec == nil {
		return "—"
	}
	d := time.Duration(math.Round(*sec)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

func fmtShare(share *float64) string {
	if share == nil {
		return "—"
	}
	return strconv.FormatFloat(*share*100, 'f', 1, 64) + " %"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func truncate(n int, s string) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// openStates are the states a case is open in, in the order of the flow.
func openStates() []takedown.State {
	return slices.DeleteFunc(slices.Clone(takedown.States), func(s takedown.State) bool { return s == takedown.StateClosed })
}
