package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// CaseView is a case with its timeline, as GET /v1/cases/{id} returns it.
type CaseView struct {
	Case     takedown.Case    `json:"case"`
	Timeline []takedown.Event `json:"timeline"`
}

// CaseList is a page of cases.
type CaseList struct {
	Cases      []takedown.Case `json:"cases"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) error {
	return s.writeCase(w, r, r.PathValue("id"))
}

func (s *Server) writeCase(w http.ResponseWriter, r *http.Request, id string) error {
	c, _, err := s.store.GetCase(r.Context(), id)
	if err != nil {
		return err
	}
	tl, err := s.store.Timeline(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, CaseView{Case: c, Timeline: tl})
	return nil
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if raw := q.Get("url"); raw != "" {
		nu, err := urlnorm.Parse(raw)
		if err != nil {
			return Errorf(http.StatusBadRequest, "url: %v", err)
		}
		id, err := s.store.CaseOfURL(r.Context(), nu.Key())
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(http.StatusNotFound, "no case for this URL")
		}
		if err != nil {
			return err
		}
		return s.writeCase(w, r, id)
	}
	f := store.ListFilter{State: takedown.State(q.Get("state")), After: q.Get("cursor"), Limit: s.pageSize}
	if f.State != "" && !f.State.Valid() {
		return Errorf(http.StatusBadRequest, "state: unknown state %q", f.State)
	}
	var err error
	if f.Since, err = parseTime(q.Get("since")); err != nil {
		return Errorf(http.StatusBadRequest, "since: %v", err)
	}
	if f.Until, err = parseTime(q.Get("until")); err != nil {
		return Errorf(http.StatusBadRequest, "until: %v", err)
	}
	if f.After != "" && !store.ValidCaseID(f.After) {
		return Errorf(http.StatusBadRequest, "cursor: not a case id")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > s.maxPage {
			return Errorf(http.StatusBadRequest, "limit: want 1..%d", s.maxPage)
		}
		f.Limit = n
	}
	cases, next, err := s.store.List(r.Context(), f)
	if err != nil {
		return err
	}
	if cases == nil {
		cases = []takedown.Case{}
	}
	writeJSON(w, http.StatusOK, CaseList{Cases: cases, NextCursor: next})
	return nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

func (s *Server) listDLQ(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
	limit := s.pageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > s.maxPage {
			return Errorf(http.StatusBadRequest, "limit: want 1..%d", s.maxPage)
		}
		limit = n
	}
	dls, err := s.store.DeadLetters(r.Context(), after, limit)
	if err != nil {
		return err
	}
	if dls == nil {
		dls = []store.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
	return nil
}

func (s *Server) getDLQ(w http.ResponseWriter, r *http.Request) error {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return Errorf(http.StatusBadRequest, "seq: not a number")
	}
	dl, err := s.store.DeadLetter(r.Context(), seq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dl)
	return nil
}
