// Package api serves the takedown-status API: cases with their timelines,
// lookups by URL, lists with filters, dead letters, health and readiness.
// Every /v1 call needs a bearer token; each token carries a role.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/store"
)

// Role grants access; a higher role includes the lower ones.
type Role int

// The roles, weakest first.
const (
	RoleReader Role = iota + 1
	RoleAnalyst
	RoleAdmin
)

// ParseRole maps a config role name to a Role.
func ParseRole(s string) (Role, error) {
	switch s {
	case "reader":
		return RoleReader, nil
	case "analyst":
		return RoleAnalyst, nil
	case "admin":
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("unknown role %q", s)
}

// Token is a bearer token with the name logged for it and its role.
type Token struct {
	Name   string
	Role   Role
	Secret string
}

// Readiness reports whether the daemon can do its work.
type Readiness func(ctx context.Context) error

// Server is the status API.
type Server struct {
	store    *store.Store
	tokens   []hashedToken
	ready    Readiness
	log      *slog.Logger
	pageSize int
	maxPage  int
	mux      *http.ServeMux
}

type hashedToken struct {
	name string
	role Role
	sum  [32]byte
}

// Options configure the API.
type Options struct {
	Tokens      []Token
	Ready       Readiness
	PageSize    int
	MaxPageSize int
	Log         *slog.Logger
}

// New builds the API handler.
func New(st *store.Store, opts Options) *Server {
	s := &Server{store: st, ready: opts.Ready, log: opts.Log, pageSize: opts.PageSize, maxPage: opts.MaxPageSize, mux: http.NewServeMux()}
	for _, t := range opts.Tokens {
		// Compare digests, not tokens: constant time and no length leak.
		s.tokens = append(s.tokens, hashedToken{name: t.Name, role: t.Role, sum: sha256.Sum256([]byte(t.Secret))})
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("GET /readyz", s.handle(0, s.readyz))
	s.mux.Handle("GET /v1/cases", s.handle(RoleReader, s.listCases))
	s.mux.Handle("GET /v1/cases/{id}", s.handle(RoleReader, s.getCase))
	s.mux.Handle("GET /v1/dlq", s.handle(RoleAnalyst, s.listDLQ))
	s.mux.Handle("GET /v1/dlq/{seq}", s.handle(RoleAnalyst, s.getDLQ))
	return s
}

// Handle adds a route (for stages that serve their own resources).
func (s *Server) Handle(pattern string, role Role, h HandlerFunc) {
	s.mux.Handle(pattern, s.handle(role, h))
}

// HandleHTTP adds a plain handler that needs no token (health, metrics:
// nothing sensitive).
func (s *Server) HandleHTTP(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HandlerFunc is an API handler that returns its error instead of writing
// it, so errors are rendered in one place.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Error is an error with the HTTP status it should produce.
type Error struct {
	Status int
	Msg    string
	Err    error
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

type ctxKey struct{}

// Caller returns the name of the token that made the request.
func Caller(r *http.Request) string {
	name, _ := r.Context().Value(ctxKey{}).(string)
	return name
}

func (s *Server) handle(need Role, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if need > 0 {
			tok, ok := s.authenticate(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="takedownd"`)
				writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or unknown bearer token"})
				return
			}
			if tok.role < need {
				writeJSON(w, http.StatusForbidden, errorBody{Error: "token " + tok.name + " lacks the role for this call"})
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, tok.name))
		}
		err := h(w, r)
		if err == nil {
			return
		}
		status, msg := http.StatusInternalServerError, "internal error"
		var apiErr *Error
		switch {
		case errors.As(err, &apiErr):
			status, msg = apiErr.Status, apiErr.Msg
		case errors.Is(err, store.ErrNotFound):
			status, msg = http.StatusNotFound, "not found"
		case errors.Is(err, context.DeadlineExceeded):
			status, msg = http.StatusServiceUnavailable, "backend timeout"
		}
		if status >= 500 {
			s.log.Error("api request failed", "path", r.URL.Path, "status", status, "err", err)
		}
		writeJSON(w, status, errorBody{Error: msg})
	})
}

func (s *Server) authenticate(r *http.Request) (hashedToken, bool) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return hashedToken{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	i := slices.IndexFunc(s.tokens, func(t hashedToken) bool { return subtle.ConstantTimeCompare(t.sum[:], sum[:]) == 1 })
	if i < 0 {
		return hashedToken{}, false
	}
	return s.tokens[i], true
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
