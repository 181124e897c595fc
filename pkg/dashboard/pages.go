package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Each page is one or two API calls as the session's token; what they
// answer is all a page shows.

type overviewData struct {
	Stats     stats.Stats
	Open      []stateCount
	Histogram histogram
	// Loading is set while the statistics are still being read.
	Loading bool
}

type stateCount struct {
	State takedown.State
	Count int
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, s *session) {
	var st stats.Stats
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/stats", nil, &st); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable {
			d.render(w, r, http.StatusOK, "overview", s, overviewData{Loading: true})
			return
		}
		d.apiFailure(w, r, s, err)
		return
	}
	data := overviewData{Stats: st, Histogram: removalHistogram(st)}
	for _, state := range openStates() {
		data.Open = append(data.Open, stateCount{State: state, Count: st.ByState[string(state)]})
	}
	d.render(w, r, http.StatusOK, "overview", s, data)
}

type listData struct {
	Cases []takedown.Case
	// State is the filter of the cases page; States its choices.
	State  string
	States []takedown.State
	// Next is the link to the next page ("" for none).
	Next string
}

func (d *Dashboard) review(w http.ResponseWriter, r *http.Request, s *session) {
	q := url.Values{}
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	var list api.CaseList
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/review?"+q.Encode(), nil, &list); err != nil {
		d.apiFailure(w, r, s, err)
		return
	}
	data := listData{Cases: list.Cases}
	if list.NextCursor != "" {
		data.Next = "/review?cursor=" + url.QueryEscape(list.NextCursor)
	}
	d.render(w, r, http.StatusOK, "review", s, data)
}

func (d *Dashboard) cases(w http.ResponseWriter, r *http.Request, s *session) {
	in := r.URL.Query()
	q := url.Values{}
	// One state at a time, noticed by default: a list of every state (or
	// of closed cases) reads every key of the cases bucket per page, which
	// on a big store is for those who ask for it.
	state := in.Get("state")
	switch {
	case state == "all":
	case state == "" || !takedown.State(state).Valid():
		state = string(takedown.StateNoticed)
	}
	if state != "all" {
		q.Set("state", state)
	}
	if c := in.Get("cursor"); c != "" {
		q.Set("cursor", c)
	}
	var list api.CaseList
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/cases?"+q.Encode(), nil, &list); err != nil {
		d.apiFailure(w, r, s, err)
		return
	}
	data := listData{Cases: list.Cases, State: state, States: takedown.States}
	if list.NextCursor != "" {
		next := url.Values{"cursor": {list.NextCursor}, "state": {state}}
		data.Next = "/cases?" + next.Encode()
	}
	d.render(w, r, http.StatusOK, "cases", s, data)
}

type caseData struct {
	api.CaseView
	// Timeline is newest first.
	Timeline []takedown.Event
}

func (d *Dashboard) casePage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if !store.ValidCaseID(id) {
		d.render(w, r, http.StatusNotFound, "error", s, "Not found (or not yours to see).")
		return
	}
	var v api.CaseView
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/cases/"+id, nil, &v); err != nil {
		d.apiFailure(w, r, s, err)
		return
	}
	tl := slices.Clone(v.Timeline)
	slices.Reverse(tl)
	d.render(w, r, http.StatusOK, "case", s, caseData{CaseView: v, Timeline: tl})
}

type hostersData struct {
	List  stats.HosterList
	Sorts []string
}

func (d *Dashboard) hosters(w http.ResponseWriter, r *http.Request, s *session) {
	in := r.URL.Query()
	q := url.Values{}
	if v := in.Get("sort"); slices.Contains(stats.HosterSorts, v) {
		q.Set("sort", v)
	}
	if v := in.Get("order"); v == "asc" || v == "desc" {
		q.Set("order", v)
	}
	var list stats.HosterList
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/hosters?"+q.Encode(), nil, &list); err != nil {
		d.apiFailure(w, r, s, err)
		return
	}
	d.render(w, r, http.StatusOK, "hosters", s, hostersData{List: list, Sorts: stats.HosterSorts})
}

type deadLettersData struct {
	DeadLetters []store.DeadLetter
	Next        string
}

// dlqPage is how many dead letters a page shows.
const dlqPage = 50

func (d *Dashboard) deadLetters(w http.ResponseWriter, r *http.Request, s *session) {
	q := url.Values{"limit": {strconv.Itoa(dlqPage)}}
	if a := r.URL.Query().Get("after"); a != "" {
		q.Set("after", a)
	}
	var list struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if _, err := d.call(r.Context(), s.scope, http.MethodGet, "/v1/dlq?"+q.Encode(), nil, &list); err != nil {
		d.apiFailure(w, r, s, err)
		return
	}
	data := deadLettersData{DeadLetters: list.DeadLetters}
	if n := len(list.DeadLetters); n == dlqPage {
		data.Next = "/dlq?after=" + strconv.FormatUint(list.DeadLetters[n-1].Seq, 10)
	}
	d.render(w, r, http.StatusOK, "dlq", s, data)
}
