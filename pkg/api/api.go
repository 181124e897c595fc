// Package api serves the takedown-status API: cases with their timelines,
// lookups by URL, lists with filters, the review queue, notices, the
// actions people take on cases, dead letters, tokens, health and
// readiness. Every /v1 call needs a bearer token; each token carries a
// scope (package scope: a role and, for a partner hotline or a hoster,
// what it is bound to), put on the request's context. Every read a
// handler makes goes through the request's view (view.go), which applies
// the scope, so no handler filters on its own. The routes are listed in
// one registry (routes.go), which tests and the API's description read.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Token is a bearer token: its secret and what it may see and do (its
// name is the scope's Token).
type Token struct {
	Secret string
	Scope  scope.Scope
}

// Readiness reports whether the daemon can do its work.
type Readiness func(ctx context.Context) error

// NoticeSource reads notice records by reference (the notify stage);
// store.ErrNotFound when there is none.
type NoticeSource interface {
	Notice(ctx context.Context, ref string) (takedown.Notice, error)
}

// Server is the status API.
type Server struct {
	store    *store.Store
	tokens   []hashedToken
	ready    Readiness
	log      *slog.Logger
	pageSize int
	maxPage  int
	mux      *http.ServeMux
	routes   []Route
	notices  NoticeSource
	acts     Doer
	book     ContactBook
}

type hashedToken struct {
	scope scope.Scope
	sum   [32]byte
}

// Options configure the API.
type Options struct {
	Tokens      []Token
	Ready       Readiness
	PageSize    int
	MaxPageSize int
	Log         *slog.Logger
}

// New builds the API handler. Tokens whose scope does not hold together
// (scope.Scope.Check) are refused.
func New(st *store.Store, opts Options) (*Server, error) {
	s := &Server{store: st, ready: opts.Ready, log: opts.Log, pageSize: opts.PageSize, maxPage: opts.MaxPageSize, mux: http.NewServeMux()}
	for _, t := range opts.Tokens {
		if err := t.Scope.Check(); err != nil {
			return nil, fmt.Errorf("api token %s: %w", t.Scope.Token, err)
		}
		// Compare digests, not tokens: constant time and no length leak.
		s.tokens = append(s.tokens, hashedToken{scope: t.Scope, sum: sha256.Sum256([]byte(t.Secret))})
	}
	s.addRoutes()
	return s, nil
}

// Handle adds a route whose handler returns its error (see HandlerFunc);
// the handler reads the request's scope with scope.FromContext and must
// apply it to whatever it answers.
func (s *Server) Handle(rt Route, h HandlerFunc) {
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.Method+" "+rt.Path, s.handle(rt, h))
}

// HandleHTTP adds a route that needs no token (health, metrics: nothing
// sensitive) with a plain handler.
func (s *Server) HandleHTTP(rt Route, h http.Handler) {
	rt.Roles = nil
	s.routes = append(s.routes, rt)
	s.mux.Handle(rt.Method+" "+rt.Path, h)
}

// ServeNotices adds GET /v1/notices/{ref}, reading notices from src.
func (s *Server) ServeNotices(src NoticeSource) {
	s.notices = src
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/notices/{ref}", Roles: Readers,
		Summary: "a notice or forward with its URLs and outcome"}, s.getNotice)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HandlerFunc is an API handler that returns its error instead of writing
// it, so errors are rendered in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Error is an error with the HTTP status it should produce. Body, when
// set, is sent instead of the bare message (it must carry "error").
type Error struct {
	Status int
	Msg    string
	Err    error
	Body   any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with status.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Caller returns the name of the token that made the request.
func Caller(r *http.Request) string { return scope.FromContext(r.Context()).Token }

func (s *Server) handle(rt Route, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(rt.Roles) > 0 {
			sc, ok := servedAs(r)
			if !ok {
				if sc, ok = s.authenticate(r); !ok {
					w.Header().Set("WWW-Authenticate", `Bearer realm="takedownd"`)
					writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or unknown bearer token"})
					return
				}
			}
			if !slices.Contains(rt.Roles, sc.Role) {
				writeJSON(w, http.StatusForbidden, errorBody{Error: fmt.Sprintf("token %s (role %s) may not call %s %s", sc.Token, sc.Role, rt.Method, rt.Path)})
				return
			}
			r = r.WithContext(scope.NewContext(r.Context(), sc))
		}
		s.render(w, r, h(w, r))
	})
}

// render writes err as the response: its status and message, or its body.
func (s *Server) render(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var body any
	var apiErr *Error
	switch {
	case errors.As(err, &apiErr):
		status, msg, body = apiErr.Status, apiErr.Msg, apiErr.Body
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "backend timeout"
	}
	if status >= 500 {
		s.log.Error("api request failed", "path", r.URL.Path, "status", status, "err", err)
	}
	if body == nil {
		body = errorBody{Error: msg}
	}
	writeJSON(w, status, body)
}

func (s *Server) authenticate(r *http.Request) (scope.Scope, bool) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return scope.Scope{}, false
	}
	return s.Authenticate(secret)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteJSON writes v as the JSON response (for handlers added by stages).
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// readyz answers 200, or 503 with every reason the daemon is not ready;
// the check bounds itself (api.ready_timeout) and is cached for a second.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.ready(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
