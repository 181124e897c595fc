package api

import (
	"net/http"
	"slices"

	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Route is one call the API answers, as the registry lists it: the method
// and path pattern (net/http's ServeMux syntax), the roles that may call
// it and what it does. What a role then sees is its scope's business
// (package scope), not the route's.
type Route struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Roles may call the route; none: no token is needed.
	Roles   []scope.Role `json:"roles,omitempty"`
	Summary string       `json:"summary"`
}

// Pattern is the route's ServeMux pattern ("GET /v1/cases/{id}").
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// Role sets of the routes.
var (
	// Readers: every role; each sees its scope.
	Readers = scope.Roles
	// Actors: the roles that may take some action (which one is the
	// scope's call, per action).
	Actors = rolesWhere(scope.Scope.MayActAtAll)
	// Checkers: the roles that may ask for a re-check.
	Checkers = rolesWhere(func(s scope.Scope) bool { return s.MayAct(takedown.ActionCheck) })
	// DeadLetterReaders: the roles that read the dead-letter stream.
	DeadLetterReaders = rolesWhere(scope.Scope.SeesDeadLetters)
	// ContactBookReaders and ContactBookEditors: the roles that read and
	// change the remembered contacts.
	ContactBookReaders = rolesWhere(scope.Scope.SeesContactBook)
	ContactBookEditors = rolesWhere(scope.Scope.EditsContactBook)
	// Admins: the roles that see the tokens.
	Admins = rolesWhere(scope.Scope.SeesTokens)
)

func rolesWhere(ok func(scope.Scope) bool) []scope.Role {
	var out []scope.Role
	for _, r := range scope.Roles {
		if ok(scope.Scope{Role: r}) {
			out = append(out, r)
		}
	}
	return out
}

// Routes lists every route the server answers, in the order they were
// added.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// addRoutes adds the routes the API serves by itself; stages add theirs
// (ServeNotices, Handle) and the daemon its metrics.
func (s *Server) addRoutes() {
	s.HandleHTTP(Route{Method: http.MethodGet, Path: "/healthz", Summary: "the process is alive"},
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}))
	s.routes = append(s.routes, Route{Method: http.MethodGet, Path: "/readyz", Summary: "whether the daemon can do its work, with every reason it cannot"})
	s.mux.Handle("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.render(w, r, s.readyz(w, r)) }))
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/cases", Roles: Readers,
		Summary: "cases in received order (state, since, until, limit, cursor), or the open case of a URL (url)"}, s.listCases)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/cases/{id}", Roles: Readers,
		Summary: "a case and its timeline"}, s.getCase)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/review", Roles: Readers,
		Summary: "the review queue: cases a person must decide on"}, s.listReview)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/dlq", Roles: DeadLetterReaders,
		Summary: "rejected messages with their reason (after, limit)"}, s.listDLQ)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/dlq/{seq}", Roles: DeadLetterReaders,
		Summary: "one rejected message"}, s.getDLQ)
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/tokens", Roles: Admins,
		Summary: "the API's tokens: names, roles and scopes, never secrets"}, s.listTokens)
	s.serveOpenAPI()
}
