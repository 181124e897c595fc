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
	v, err := s.view(r).caseView(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := s.view(r)
	if raw := q.Get("url"); raw != "" {
		nu, err := urlnorm.Parse(raw)
		if err != nil {
			return Errorf(http.StatusBadRequest, "url: %v", err)
		}
		id, err := v.caseOfURL(r.Context(), nu.Key())
		if err == nil {
			var cv CaseView
			if cv, err = v.caseView(r.Context(), id); err == nil {
				writeJSON(w, http.StatusOK, cv)
				return nil
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(http.StatusNotFound, "no case for this URL")
		}
		return err
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
	if err := s.pageOf(q.Get("cursor"), q.Get("limit"), &f); err != nil {
		return err
	}
	return s.writeList(w, r, f)
}

// listReview is the review queue: the cases in review, oldest first.
func (s *Server) listReview(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.ListFilter{State: takedown.StateReview, Limit: s.maxPage}
	if err := s.pageOf(q.Get("cursor"), q.Get("limit"), &f); err != nil {
		return err
	}
	return s.writeList(w, r, f)
}

// pageOf reads the cursor and limit of a list.
func (s *Server) pageOf(cursor, limit string, f *store.ListFilter) error {
	if cursor != "" && !store.ValidCaseID(cursor) {
		return Errorf(http.StatusBadRequest, "cursor: not a case id")
	}
	f.After = cursor
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n <= 0 || n > s.maxPage {
			return Errorf(http.StatusBadRequest, "limit: want 1..%d", s.maxPage)
		}
		f.Limit = n
	}
	return nil
}

func (s *Server) writeList(w http.ResponseWriter, r *http.Request, f store.ListFilter) error {
	cases, next, err := s.view(r).list(r.Context(), f)
	if err != nil {
		return err
	}
	if wantsCSV(r) {
		// The cursor of the next page travels in a header: a CSV has
		// nowhere else to put it.
		w.Header().Set("X-Next-Cursor", next)
		return writeCSV(w, "cases", caseRows(cases))
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

func (s *Server) getNotice(w http.ResponseWriter, r *http.Request) error {
	n, err := s.view(r).notice(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
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
	dls, err := s.view(r).deadLetters(r.Context(), after, limit)
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
	dl, err := s.view(r).deadLetter(r.Context(), seq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dl)
	return nil
}

// listTokens lists the tokens' names, roles and bindings; secrets never
// leave the process.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.view(r).tokens()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}
