package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the API's OpenAPI 3.1 description. Its schemas are generated
// from the Go types the handlers answer with, its operations from the
// route registry and a table of parameters and answers
// (openapi_gen_test.go: go test ./pkg/api -run TestOpenAPIDocument
// -update rewrites it); a test in pkg/app calls every operation it
// describes on a running daemon and validates the answers against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPIPath is where the description is served.
const OpenAPIPath = "/v1/openapi.json"

// OpenAPI returns a copy of the API's OpenAPI 3.1 description (JSON).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// serveOpenAPI adds GET /v1/openapi.json. It needs no token: the
// description says what the API answers, never what it holds.
func (s *Server) serveOpenAPI() {
	s.HandleHTTP(Route{Method: http.MethodGet, Path: OpenAPIPath, Summary: "this API's OpenAPI 3.1 description"},
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
			_, _ = w.Write(openAPI)
		}))
}
