package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/store"
)

func newServer(t *testing.T, tokens ...Token) *Server {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Options{Tokens: tokens, PageSize: 10, MaxPageSize: 100, Log: log, Ready: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func call(s *Server, method, path, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// TestRegistry: every route is in the registry once, with roles the
// scope package knows, and the server answers each pattern it lists.
func TestRegistry(t *testing.T) {
	t.Parallel()
	s := newServer(t, Token{Secret: "admin-secret", Scope: scope.Scope{Token: "admin", Role: scope.Admin}})
	s.ServeNotices(nil)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/extra", Roles: Readers, Summary: "a stage's own"}, func(w http.ResponseWriter, r *http.Request) error {
		WriteJSON(w, http.StatusOK, map[string]string{"scope": string(scope.FromContext(r.Context()).Role)})
		return nil
	})
	seen := map[string]bool{}
	for _, rt := range s.Routes() {
		if seen[rt.Pattern()] {
			t.Errorf("%s listed twice", rt.Pattern())
		}
		seen[rt.Pattern()] = true
		if rt.Summary == "" {
			t.Errorf("%s has no summary", rt.Pattern())
		}
		for _, r := range rt.Roles {
			if !slices.Contains(scope.Roles, r) {
				t.Errorf("%s lists unknown role %q", rt.Pattern(), r)
			}
		}
		path := strings.NewReplacer("{id}", "0000000000000A01", "{ref}", "TD-X", "{seq}", "1").Replace(rt.Path)
		if rec := call(s, rt.Method, path, "admin-secret"); rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound && !strings.Contains(rec.Body.String(), "not found") {
			t.Errorf("%s %s: %d %s", rt.Method, path, rec.Code, rec.Body)
		}
	}
	for _, want := range []string{"GET /healthz", "GET /readyz", "GET /v1/cases", "GET /v1/cases/{id}", "GET /v1/review", "GET /v1/notices/{ref}", "GET /v1/dlq", "GET /v1/tokens", "GET /v1/extra"} {
		if !seen[want] {
			t.Errorf("registry lacks %s", want)
		}
	}
	if rec := call(s, http.MethodGet, "/v1/extra", "admin-secret"); !strings.Contains(rec.Body.String(), `"admin"`) {
		t.Errorf("a stage's route does not see the scope: %s", rec.Body)
	}
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t,
		Token{Secret: "viewer-secret", Scope: scope.Scope{Token: "v", Role: scope.Viewer}},
		Token{Secret: "hoster-secret", Scope: scope.Scope{Token: "h", Role: scope.Hoster, Domains: []string{"a.nl"}}},
	)
	tests := []struct {
		name, path, secret string
		code               int
		body               string
	}{
		{"no token", "/v1/cases", "", http.StatusUnauthorized, "missing or unknown bearer token"},
		{"unknown token", "/v1/cases", "nope", http.StatusUnauthorized, "missing or unknown bearer token"},
		{"viewer on dead letters", "/v1/dlq", "viewer-secret", http.StatusForbidden, "token v (role viewer) may not call GET /v1/dlq"},
		{"hoster on tokens", "/v1/tokens", "hoster-secret", http.StatusForbidden, "role hoster"},
		{"hoster lists nothing yet", "/v1/cases", "hoster-secret", http.StatusOK, `"cases": []`},
		{"bad state", "/v1/cases?state=gone", "viewer-secret", http.StatusBadRequest, `state: unknown state`},
		{"unknown case", "/v1/cases/0000000000000A01", "viewer-secret", http.StatusNotFound, "not found"},
	}
	for _, tt := range tests {
		rec := call(s, http.MethodGet, tt.path, tt.secret)
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, rec.Code, rec.Body, tt.code, tt.body)
		}
	}
}

func TestTokensWithoutBindingRefused(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 3}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(st, Options{Tokens: []Token{{Secret: "x", Scope: scope.Scope{Token: "p", Role: scope.Partner}}}})
	if err == nil || !strings.Contains(err.Error(), "api token p") {
		t.Errorf("New with an unbound partner token = %v", err)
	}
}
