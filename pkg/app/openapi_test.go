package app

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
)

// openAPIDoc is the API's description, parsed, with its schemas compiled
// on demand.
type openAPIDoc struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// openAPIBase names the description as a schema resource; it is never
// fetched.
const openAPIBase = "urn:takedownd:openapi"

func loadOpenAPI(t *testing.T, raw []byte) *openAPIDoc {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(openAPIBase, doc); err != nil {
		t.Fatalf("openapi.json as a schema resource: %v", err)
	}
	m, _ := doc.(map[string]any)
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: openapi %v, want 3.1.0", m["openapi"])
	}
	return &openAPIDoc{doc: m, compiler: c, compiled: map[string]*jsonschema.Schema{}}
}

// describedOp is one operation of the description.
type describedOp struct {
	method, path string
	op           map[string]any
	ptr          string // JSON pointer to the operation
}

func (d *openAPIDoc) operations() []describedOp {
	var out []describedOp
	paths, _ := d.doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			ptr := "/paths/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(path) + "/" + method
			out = append(out, describedOp{method: strings.ToUpper(method), path: path, op: op.(map[string]any), ptr: ptr})
		}
	}
	slices.SortFunc(out, func(a, b describedOp) int {
		// DELETE last: it takes away what the reads show.
		if (a.method == http.MethodDelete) != (b.method == http.MethodDelete) {
			if a.method == http.MethodDelete {
				return 1
			}
			return -1
		}
		return strings.Compare(a.method+" "+a.path, b.method+" "+b.path)
	})
	return out
}

func (o describedOp) roles() []string {
	var out []string
	list, _ := o.op["x-roles"].([]any)
	for _, r := range list {
		out = append(out, r.(string))
	}
	return out
}

// check checks one answer against the operation's description: the
// status is described, and a JSON body matches its schema.
func (d *openAPIDoc) check(t *testing.T, o describedOp, what string, code int, contentType string, body []byte) {
	t.Helper()
	responses, _ := o.op["responses"].(map[string]any)
	resp, found := responses[fmt.Sprint(code)].(map[string]any)
	if !found {
		t.Errorf("%s: status %d is not described (%s)", what, code, body)
		return
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	content, _ := resp["content"].(map[string]any)
	if _, found := content[mt]; !found {
		t.Errorf("%s: %d answers %s, which its description does not list", what, code, mt)
		return
	}
	if mt != "application/json" {
		return
	}
	ptr := fmt.Sprintf("%s/responses/%d/content/application~1json/schema", o.ptr, code)
	sch, found := d.compiled[ptr]
	if !found {
		var err error
		if sch, err = d.compiler.Compile(openAPIBase + "#" + ptr); err != nil {
			t.Fatalf("%s: compile its schema: %v", what, err)
		}
		d.compiled[ptr] = sch
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: not JSON: %v", what, err)
		return
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s: the answer does not match its schema: %v\n%s", what, err, body)
	}
}

// TestOpenAPIDescribesTheDaemon: the description the daemon serves
// without a token is the embedded one; every route the daemon answers is
// described and every described operation is a route; each is called
// with a token of a role it lists against seeded data, and its answers —
// and its 401, 403, 404, 400 and 409 where they apply — match the
// description's statuses, media types and schemas.
func TestOpenAPIDescribesTheDaemon(t *testing.T) {
	t.Parallel()
	w := startScopeWorld(t)
	code, served := w.call(t, http.MethodGet, api.OpenAPIPath, "", nil)
	if code != http.StatusOK || !bytes.Equal(served, api.OpenAPI()) {
		t.Fatalf("GET %s without a token: %d, %d bytes (want the embedded description)", api.OpenAPIPath, code, len(served))
	}
	d := loadOpenAPI(t, served)
	ops := d.operations()

	described := map[string]bool{}
	for _, o := range ops {
		described[o.method+" "+o.path] = true
	}
	registered := map[string]bool{}
	for _, rt := range w.d.app.api.Routes() {
		registered[rt.Pattern()] = true
		if !described[rt.Pattern()] {
			t.Errorf("%s is answered but not described (add it to operations() in pkg/api/openapi_gen_test.go and -update)", rt.Pattern())
		}
	}
	for p := range described {
		if !registered[p] {
			t.Errorf("%s is described but not answered", p)
		}
	}

	waitUntil(t, "the statistics to load", func() bool {
		c, _ := w.call(t, http.MethodGet, "/v1/stats", "admin", nil)
		return c == http.StatusOK
	})
	a := w.cases["a"]
	values := map[string]string{
		"{id}": a.ID, "{ref}": "TD-A", "{seq}": "1", "{hoster}": stats.HosterKey(&a), "{key}": "domain.hoster-a.nl",
	}
	tokenOf := map[string]string{"admin": "admin", "analyst": "alice", "viewer": "viewer", "partner": "hotline-de", "hoster": "hoster-a"}
	for _, o := range ops {
		path := o.path
		for k, v := range values {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.Contains(path, "{") {
			t.Errorf("%s %s: no seeded value for its parameter", o.method, o.path)
			continue
		}
		roles := o.roles()
		tok := ""
		for _, r := range []string{"admin", "analyst", "viewer", "partner", "hoster"} {
			if slices.Contains(roles, r) {
				tok = tokenOf[r]
				break
			}
		}
		var body []byte
		if o.method == http.MethodPost {
			body = []byte(`{"action":"check","note":"openapi walk"}`)
		}
		what := fmt.Sprintf("%s %s as %q", o.method, path, tok)
		code, ctype, got := w.callFull(t, o.method, path, tok, body, "")
		if code >= 300 {
			t.Errorf("%s: %d, want it to answer: %s", what, code, got)
		}
		d.check(t, o, what, code, ctype, got)

		responses, _ := o.op["responses"].(map[string]any)
		if ok200, _ := responses["200"].(map[string]any); ok200 != nil {
			if content, _ := ok200["content"].(map[string]any); content["text/csv"] != nil {
				code, ctype, got := w.callFull(t, o.method, path, tok, body, "text/csv")
				if mt, _, _ := mime.ParseMediaType(ctype); code != http.StatusOK || mt != "text/csv" {
					t.Errorf("%s with Accept: text/csv: %d %s", what, code, ctype)
				}
				d.check(t, o, what+" (csv)", code, ctype, got)
			}
		}
		if len(roles) == 0 {
			continue
		}
		code, ctype, got = w.callFull(t, o.method, path, "", body, "")
		if code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", what, code)
		}
		d.check(t, o, what+" without a token", code, ctype, got)
		for r, name := range tokenOf {
			if !slices.Contains(roles, r) {
				code, ctype, got = w.callFull(t, o.method, path, name, body, "")
				if code != http.StatusForbidden {
					t.Errorf("%s as %s: %d, want 403", what, name, code)
				}
				d.check(t, o, what+" as "+name, code, ctype, got)
				break
			}
		}
		if strings.Contains(o.path, "{id}") {
			missing := strings.Replace(o.path, "{id}", store.CaseID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 999), 1)
			code, ctype, got = w.callFull(t, o.method, missing, tok, body, "")
			if code != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", o.method, missing, code)
			}
			d.check(t, o, o.method+" "+missing, code, ctype, got)
		}
	}

	// The action's refusals.
	act := ops[slices.IndexFunc(ops, func(o describedOp) bool { return o.path == "/v1/cases/{id}/actions" })]
	for _, c := range []struct {
		body string
		want int
	}{
		{`{"action":"bogus"}`, http.StatusBadRequest},
		{`{"action":"resume","reason":"not paused"}`, http.StatusConflict},
	} {
		path := "/v1/cases/" + w.cases["b"].ID + "/actions"
		code, ctype, got := w.callFull(t, http.MethodPost, path, "alice", []byte(c.body), "")
		if code != c.want {
			t.Errorf("POST %s %s: %d, want %d", path, c.body, code, c.want)
		}
		d.check(t, act, "POST "+path+" "+c.body, code, ctype, got)
	}
}

// callFull is call with an Accept header, returning the content type too.
func (w *scopeWorld) callFull(t *testing.T, method, path, token string, body []byte, accept string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+w.d.app.APIAddr()+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+scopeSecret(token))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}
