package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/scope"
)

// In-process callers that authenticated a person themselves (the
// dashboard's login) call the API as that person's token: the same
// routes, role checks, views and actions, so that what a page shows and
// does is exactly what the API would answer that token.

// Authenticate returns the scope of the token with this secret; false
// when no token has it. The comparison is of digests, in constant time.
func (s *Server) Authenticate(secret string) (scope.Scope, bool) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return scope.Scope{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	i := slices.IndexFunc(s.tokens, func(t hashedToken) bool { return subtle.ConstantTimeCompare(t.sum[:], sum[:]) == 1 })
	if i < 0 {
		return scope.Scope{}, false
	}
	return s.tokens[i].scope, true
}

type asKey struct{}

// ServeAs serves r as the API would serve it to the token whose scope is
// sc, without a bearer token: sc must come from Authenticate. A request
// from outside the process cannot carry it (it lives on the request's
// context), so this opens nothing to the network.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, sc scope.Scope) {
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), asKey{}, sc)))
}

// servedAs is the scope ServeAs put on the request.
func servedAs(r *http.Request) (scope.Scope, bool) {
	sc, ok := r.Context().Value(asKey{}).(scope.Scope)
	return sc, ok
}
