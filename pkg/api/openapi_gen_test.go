package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/takedownd/takedownd/pkg/actions"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the route registry, the operation table and the Go types")

// The operations: what the registry does not say of each route — its
// parameters, its body and its answers. A route added to the registry
// without an entry here fails TestOpenAPIDocument (and, on a running
// daemon, TestOpenAPIDescribesTheDaemon in pkg/app).

type param struct {
	name, in, desc string
	schema         map[string]any
}

type answer struct {
	status int
	desc   string
	body   any    // a value of the JSON body's type; nil: none described
	oneOf  []any  // or one of these
	media  string // a body that is not JSON (text/plain, text/csv)
}

type operation struct {
	params  []param
	body    any // the JSON request body's type
	answers []answer
	csv     bool // also answers text/csv (Accept: text/csv or format=csv)
}

// The bodies that are not a named type of ours.
type (
	// ErrorAnswer is what an error answers: the message, and for a 400 or
	// a refused action what it is about.
	ErrorAnswer struct {
		Error string `json:"error"`
		// Field names the request's field a 400 is about.
		Field string `json:"field,omitempty"`
		// CaseID, State and Reason say why an action was refused (409).
		CaseID string         `json:"case_id,omitempty"`
		State  takedown.State `json:"state,omitempty"`
		Reason string         `json:"reason,omitempty"`
	}
	// StatusAnswer is the answer of /healthz and /readyz.
	StatusAnswer struct {
		Status string `json:"status"`
		Reason string `json:"reason,omitempty"`
	}
	// DeadLetterList is a page of GET /v1/dlq.
	DeadLetterList struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	// TokenList is GET /v1/tokens: names, roles and bindings, never a
	// secret.
	TokenList struct {
		Tokens []scope.Scope `json:"tokens"`
	}
	// ContactList is GET /v1/contacts: the contacts remembered for
	// hosters.
	ContactList struct {
		Contacts []kvbook.Record `json:"contacts"`
	}
	// Forgotten names the remembered contact DELETE /v1/contacts/{key}
	// forgot.
	Forgotten struct {
		Forgotten string `json:"forgotten"`
	}
)

func str(desc string) param { return param{desc: desc, schema: map[string]any{"type": "string"}} }

func q(name string, p param) param  { p.name, p.in = name, "query"; return p }
func in(name string, p param) param { p.name, p.in = name, "path"; return p }

func intRange(desc string, lo int) param {
	return param{desc: desc, schema: map[string]any{"type": "integer", "minimum": lo}}
}

func enum(desc string, vals ...string) param {
	return param{desc: desc, schema: map[string]any{"type": "string", "enum": vals}}
}

func timeParam(desc string) param {
	return param{desc: desc + " (RFC 3339, or a date: 2026-01-31)", schema: map[string]any{"type": "string"}}
}

var (
	pageParams = []param{
		q("limit", intRange("the page's size, at most api.max_page_size", 1)),
		q("cursor", str("the next_cursor of the page before")),
	}
	statsParams = []param{
		q("from", timeParam("cases confirmed at or after")),
		q("to", timeParam("cases confirmed before")),
		q("country", str("the hosting country (ISO code, or unknown)")),
		q("hoster", str("a hoster id (GET /v1/hosters)")),
		q("route", enum("where routing sent the case", "hoster", "partner", "cdn", "review", "none", "unrouted")),
		q("format", enum("csv: the answer as CSV, as Accept: text/csv asks", "csv", "json")),
	}
	caseID    = in("id", str("the case's id"))
	ok        = func(body any) answer { return answer{status: http.StatusOK, desc: "the answer", body: body} }
	bad       = answer{status: http.StatusBadRequest, desc: "a parameter or field that does not fit, named", body: ErrorAnswer{}}
	notFound  = answer{status: http.StatusNotFound, desc: "no such thing in the token's scope (whether it exists is not told)", body: ErrorAnswer{}}
	loading   = answer{status: http.StatusServiceUnavailable, desc: "the statistics are still loading", body: ErrorAnswer{}}
	conflict  = answer{status: http.StatusConflict, desc: "the action does not fit the case as it stands: why, with its state", body: ErrorAnswer{}}
	accepted  = answer{status: http.StatusAccepted, desc: "done, and a stage was asked for work (work lists it)", body: ActionAnswer{}}
	actedOnly = answer{status: http.StatusOK, desc: "done: the change is all", body: ActionAnswer{}}
)

func operations() map[string]operation {
	return map[string]operation{
		"GET /healthz": {answers: []answer{ok(StatusAnswer{})}},
		"GET /readyz": {answers: []answer{ok(StatusAnswer{}),
			{status: http.StatusServiceUnavailable, desc: "not ready, with every reason", body: StatusAnswer{}}}},
		"GET /metrics":       {answers: []answer{{status: http.StatusOK, desc: "Prometheus metrics in the text format", media: "text/plain"}}},
		"GET " + OpenAPIPath: {answers: []answer{{status: http.StatusOK, desc: "this description", body: map[string]any{}}}},
		"GET /v1/cases": {
			params: append([]param{
				q("url", str("a URL: the answer is its open case with its timeline (normalised as intake does)")),
				q("state", enum("only cases in this state", states()...)),
				q("since", timeParam("cases received at or after")),
				q("until", timeParam("cases received before")),
				q("format", enum("csv: the page as CSV (the next cursor in X-Next-Cursor)", "csv", "json")),
			}, pageParams...),
			answers: []answer{{status: http.StatusOK, desc: "a page of cases; with url, the URL's open case and its timeline", oneOf: []any{CaseList{}, CaseView{}}}, bad, notFound},
			csv:     true,
		},
		"GET /v1/cases/{id}": {params: []param{caseID}, answers: []answer{ok(CaseView{}), notFound}},
		"GET /v1/review": {params: append(slices.Clone(pageParams), q("format", enum("csv: the page as CSV", "csv", "json"))),
			answers: []answer{ok(CaseList{}), bad}, csv: true},
		"GET /v1/notices/{ref}": {params: []param{in("ref", str("the notice's reference (TD-…)"))}, answers: []answer{ok(takedown.Notice{}), notFound}},
		"POST /v1/cases/{id}/actions": {params: []param{caseID}, body: actions.Request{},
			answers: []answer{actedOnly, accepted, bad, notFound, conflict}},
		"POST /v1/cases/{id}/check": {params: []param{caseID}, answers: []answer{actedOnly, accepted, notFound, conflict}},
		"GET /v1/dlq": {params: []param{q("after", intRange("list the dead letters after this sequence", 0)), pageParams[0]},
			answers: []answer{ok(DeadLetterList{}), bad}},
		"GET /v1/dlq/{seq}":         {params: []param{in("seq", intRange("the dead letter's sequence", 1))}, answers: []answer{ok(store.DeadLetter{}), bad, notFound}},
		"GET /v1/tokens":            {answers: []answer{ok(TokenList{})}},
		"GET /v1/contacts":          {answers: []answer{ok(ContactList{})}},
		"DELETE /v1/contacts/{key}": {params: []param{in("key", str("the record's key: domain.hoster.nl, network.192.0.2.0/24, asn.64500"))}, answers: []answer{ok(Forgotten{}), notFound}},
		"GET /v1/stats":             {params: statsParams, answers: []answer{ok(stats.Stats{}), bad, loading}, csv: true},
		"GET /v1/hosters": {params: append(slices.Clone(statsParams),
			q("sort", enum("the figure to sort by", stats.HosterSorts...)),
			q("order", enum("desc (the default: the slowest first) or asc", "desc", "asc")),
			q("offset", intRange("where the page starts", 0)), pageParams[0]),
			answers: []answer{ok(stats.HosterList{}), bad, loading}, csv: true},
		"GET /v1/hosters/{hoster}": {params: append([]param{in("hoster", str("the hoster's id: its abuse desk's registrable domain, or AS<n>"))}, statsParams...),
			answers: []answer{ok(stats.Hoster{}), bad, notFound, loading}, csv: true},
	}
}

func states() []string {
	out := make([]string, len(takedown.States))
	for i, s := range takedown.States {
		out[i] = string(s)
	}
	return out
}

// fullRegistry is every route a daemon serves, as the API and the stages
// register them (the handlers are never called).
func fullRegistry() []Route {
	s := &Server{mux: http.NewServeMux()}
	s.addRoutes()
	s.ServeNotices(nil)
	s.ServeActions(nil)
	s.ServeContacts(nil)
	s.ServeStats(nil)
	s.HandleHTTP(Route{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics: counts only, never a URL or case id"}, http.NotFoundHandler())
	return s.Routes()
}

// buildOpenAPI is the description: the operations of the registry's
// routes, their schemas generated from the Go types.
func buildOpenAPI(root string) (map[string]any, error) {
	g := newSchemaGen(root, map[reflect.Type][]string{
		reflect.TypeFor[takedown.State](): states(),
		reflect.TypeFor[scope.Role]():     roleNames(scope.Roles),
	})
	ops := operations()
	paths := map[string]any{}
	var problems []string
	for _, rt := range fullRegistry() {
		op, found := ops[rt.Pattern()]
		if !found {
			problems = append(problems, rt.Pattern()+" is not in operations()")
			continue
		}
		delete(ops, rt.Pattern())
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt, op)
	}
	for p := range ops {
		problems = append(problems, p+" is in operations() but no route")
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "takedownd status API",
			"version": "1",
			"description": "The status API of takedownd: cases with their timelines, the review queue, notices, the actions people take on cases, " +
				"statistics and hosters, dead letters, tokens. Every /v1 call but this description needs a bearer token; what it sees and may do is its role's " +
				"scope (x-roles lists the roles that may call an operation). A case, notice or hoster outside a token's scope is not found. " +
				"Generated from the route registry and the Go types (go test ./pkg/api -run TestOpenAPIDocument -update).",
		},
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"paths":             paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a token of api.tokens (or the one in <data>/api-token)"},
			},
		},
	}, nil
}

func roleNames(rs []scope.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func (g *schemaGen) operation(rt Route, op operation) map[string]any {
	o := map[string]any{"summary": rt.Summary, "operationId": operationID(rt)}
	answers := slices.Clone(op.answers)
	if len(rt.Roles) > 0 {
		o["security"] = []any{map[string]any{"bearer": []any{}}}
		o["x-roles"] = roleNames(rt.Roles)
		o["description"] = "Roles: " + strings.Join(roleNames(rt.Roles), ", ") + "."
		answers = append(answers,
			answer{status: http.StatusUnauthorized, desc: "no token, or an unknown one", body: ErrorAnswer{}},
			answer{status: http.StatusForbidden, desc: "the token's role may not do this", body: ErrorAnswer{}})
	} else {
		o["security"] = []any{}
	}
	var params []any
	for _, p := range op.params {
		m := map[string]any{"name": p.name, "in": p.in, "description": p.desc, "schema": p.schema}
		if p.in == "path" {
			m["required"] = true
		}
		params = append(params, m)
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.body != nil {
		o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(op.body), false)}}}
	}
	responses := map[string]any{}
	for _, a := range answers {
		r := map[string]any{"description": a.desc}
		content := map[string]any{}
		switch {
		case a.media != "":
			content[a.media] = map[string]any{"schema": map[string]any{"type": "string"}}
		case a.oneOf != nil:
			var alts []any
			for _, b := range a.oneOf {
				alts = append(alts, g.schema(reflect.TypeOf(b), false))
			}
			content["application/json"] = map[string]any{"schema": map[string]any{"oneOf": alts}}
		case a.body != nil:
			content["application/json"] = map[string]any{"schema": g.schema(reflect.TypeOf(a.body), false)}
		}
		if op.csv && a.status == http.StatusOK {
			content["text/csv"] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		if len(content) > 0 {
			r["content"] = content
		}
		responses[fmt.Sprint(a.status)] = r
	}
	o["responses"] = responses
	return o
}

// operationID names an operation by its method and path:
// get_v1_cases_id.
func operationID(rt Route) string {
	id := strings.ToLower(rt.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(rt.Path)
	return id
}

// TestOpenAPIDocument: openapi.json is what the registry, the operation
// table and the Go types make of it now (-update rewrites it), and every
// route of the registry is described.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, err := buildOpenAPI("../..")
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("openapi.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("openapi.json is out of date with the routes or the Go types: go test ./pkg/api -run TestOpenAPIDocument -update (the embedded copy is the one of the build: run it twice)")
	}
	if !*update && !bytes.Equal(OpenAPI(), got) {
		t.Errorf("the embedded description is not openapi.json")
	}
}

// TestOpenAPIServed: the description is served without a token, and
// every schema in it compiles as JSON Schema 2020-12.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := &Server{mux: http.NewServeMux()}
	s.addRoutes()
	rec := call(s, http.MethodGet, OpenAPIPath, "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
		t.Fatalf("GET %s: %d %s", OpenAPIPath, rec.Code, rec.Header().Get("Content-Type"))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(OpenAPI()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("urn:takedownd:openapi", doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)
	for name := range schemas {
		if _, err := c.Compile("urn:takedownd:openapi#/components/schemas/" + name); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	if len(schemas) < 20 {
		t.Errorf("only %d schemas", len(schemas))
	}
}
