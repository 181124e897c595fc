package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/stats"
)

// StatsSource answers the statistics routes; *stats.Aggregate is one.
type StatsSource interface {
	Stats(f stats.Filter) (stats.Stats, error)
	Hosters(q stats.HosterQuery) (stats.HosterList, error)
	Hoster(id string, f stats.Filter) (stats.Hoster, error)
}

// ServeStats adds the statistics routes, answered from src:
// GET /v1/stats, GET /v1/hosters and GET /v1/hosters/{hoster}, as JSON or,
// asked with Accept: text/csv (or ?format=csv), as CSV.
func (s *Server) ServeStats(src StatsSource) {
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/stats", Roles: Readers,
		Summary: "the figures of the cases in scope (from, to on confirmation time; country, hoster, route); JSON or CSV"},
		func(w http.ResponseWriter, r *http.Request) error {
			f, err := statsFilter(r)
			if err != nil {
				return err
			}
			st, err := src.Stats(f)
			return statsAnswer(w, r, "stats", st, err, func() [][]string { return statsRows(st) })
		})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/hosters", Roles: Readers,
		Summary: "hosters of the cases in scope with their removal times, sortable (sort, order, offset, limit, and the filters of /v1/stats); JSON or CSV"},
		func(w http.ResponseWriter, r *http.Request) error {
			q, err := hosterQuery(r, s.maxPage)
			if err != nil {
				return err
			}
			list, err := src.Hosters(q)
			return statsAnswer(w, r, "hosters", list, err, func() [][]string { return hosterRows(list.Hosters) })
		})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/hosters/{hoster}", Roles: Readers,
		Summary: "one hoster's figures over the cases in scope; JSON or CSV"},
		func(w http.ResponseWriter, r *http.Request) error {
			f, err := statsFilter(r)
			if err != nil {
				return err
			}
			h, err := src.Hoster(r.PathValue("hoster"), f)
			return statsAnswer(w, r, "hoster", h, err, func() [][]string { return hosterRows([]stats.Hoster{h}) })
		})
}

// statsAnswer writes v as JSON, or its rows as CSV when the client asked for
// CSV, unless the aggregate refused (err).
func statsAnswer(w http.ResponseWriter, r *http.Request, name string, v any, err error, rows func() [][]string) error {
	if err != nil {
		return statsError(err)
	}
	if wantsCSV(r) {
		return writeCSV(w, name, rows())
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// statsError maps the aggregate's errors onto statuses.
func statsError(err error) error {
	switch {
	case errors.Is(err, stats.ErrLoading):
		return &Error{Status: http.StatusServiceUnavailable, Msg: "statistics are still loading; try again in a few seconds"}
	case errors.Is(err, stats.ErrUnknownHoster):
		return &Error{Status: http.StatusNotFound, Msg: "no such hoster among the cases you may see"}
	case errors.Is(err, stats.ErrInvalid):
		return Errorf(http.StatusBadRequest, "%s", strings.TrimSuffix(err.Error(), ": "+stats.ErrInvalid.Error()))
	}
	return err
}

// statsFilter reads from, to, country, hoster and route, and applies the
// caller's scope.
func statsFilter(r *http.Request) (stats.Filter, error) {
	q := r.URL.Query()
	f := stats.Filter{Country: q.Get("country"), Hoster: q.Get("hoster"), Route: q.Get("route")}
	// The scope's own rule: the cases carrying one of its audience keys,
	// and for a hoster, no hoster but itself.
	sc := scope.FromContext(r.Context())
	f.Audiences = sc.Audiences()
	if sc.Role == scope.Hoster {
		f.Own = &stats.Own{Domains: sc.Domains, ASNs: sc.ASNs}
	}
	var err error
	if f.From, err = parseTime(q.Get("from")); err != nil {
		return f, Errorf(http.StatusBadRequest, "from: %v", err)
	}
	if f.To, err = parseTime(q.Get("to")); err != nil {
		return f, Errorf(http.StatusBadRequest, "to: %v", err)
	}
	if err := f.Validate(); err != nil {
		return f, statsError(err)
	}
	return f, nil
}

func hosterQuery(r *http.Request, maxPage int) (stats.HosterQuery, error) {
	f, err := statsFilter(r)
	if err != nil {
		return stats.HosterQuery{}, err
	}
	q := r.URL.Query()
	hq := stats.HosterQuery{Filter: f, Sort: q.Get("sort"), Order: strings.ToLower(q.Get("order")), Limit: maxPage}
	for name, dst := range map[string]*int{"offset": &hq.Offset, "limit": &hq.Limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (name == "limit" && (n == 0 || n > maxPage)) {
				return hq, Errorf(http.StatusBadRequest, "%s: want a number (limit 1..%d)", name, maxPage)
			}
			*dst = n
		}
	}
	return hq, nil
}
