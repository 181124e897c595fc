// Package dashboard is the hotline's web dashboard, served at / beside the
// status API: an overview of the figures, the review queue with its
// actions, cases with their timelines, hosters ranked by how slowly they
// remove, and dead letters. Pages are rendered on the server with
// html/template from embedded files; there is no script at all (the
// overview refreshes itself with a meta refresh).
//
// A person logs in with an API token. The dashboard keeps the token's
// scope in a server-side session (the cookie holds only a random session
// id: HttpOnly, SameSite=Strict, Secure under TLS) and then calls the
// API in-process as that token (api.Server.ServeAs): every figure, list,
// case and action is the API's own answer to that token, redacted by the
// same scope, so a page can show nothing the token could not read through
// the API, and an action is the API's action. Every POST must come from
// the dashboard's own origin (Sec-Fetch-Site, Origin) and carry the
// session's CSRF token.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/takedownd/takedownd/pkg/scope"
)

// API is the status API as the dashboard calls it (*api.Server is one).
type API interface {
	// Authenticate returns the scope of the token with this secret.
	Authenticate(secret string) (scope.Scope, bool)
	// ServeAs serves r as the API serves the token whose scope is sc.
	ServeAs(w http.ResponseWriter, r *http.Request, sc scope.Scope)
}

// Options configure the dashboard.
type Options struct {
	API API
	// SessionIdle ends a session not used for this long; SessionMax ends
	// any session this long after its login.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// MaxSessions bounds the sessions held at once: a login beyond it
	// ends the session used least recently.
	MaxSessions int
	// Refresh is how often the overview reloads itself.
	Refresh time.Duration
	Now     func() time.Time
	Log     *slog.Logger
}

// Defaults of the options left zero.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
	DefaultMaxSessions = 1000
	DefaultRefresh     = 30 * time.Second
)

//go:embed templates/*.html assets/*
var files embed.FS

// Dashboard is the dashboard's HTTP handler.
type Dashboard struct {
	api      API
	log      *slog.Logger
	refresh  time.Duration
	sessions *sessions
	throttle *throttle
	pages    map[string]*pageTemplate
	mux      *http.ServeMux
	// handler is mux behind the cross-origin check.
	handler http.Handler
}

// New builds the dashboard.
func New(opts Options) (*Dashboard, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = DefaultSessionMax
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		api: opts.API, log: opts.Log, refresh: opts.Refresh, pages: pages,
		sessions: newSessions(opts.SessionIdle, opts.SessionMax, opts.MaxSessions, opts.Now), throttle: newThrottle(opts.Now),
		mux: http.NewServeMux(),
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.log.Warn("dashboard request refused: cross-origin", "path", r.URL.Path, "remote", r.RemoteAddr)
		d.plainError(w, http.StatusForbidden, "This request came from another site and is refused.")
	}))
	d.handler = cop.Handler(d.mux)
	if err := d.routes(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dashboard) routes() error {
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		return fmt.Errorf("dashboard assets: %w", err)
	}
	d.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	d.mux.HandleFunc("GET /login", d.loginPage)
	d.mux.HandleFunc("POST /login", d.login)
	d.mux.Handle("POST /logout", d.withSession(d.logout))
	d.mux.Handle("GET /{$}", d.withSession(d.overview))
	d.mux.Handle("GET /review", d.withSession(d.review))
	d.mux.Handle("GET /cases", d.withSession(d.cases))
	d.mux.Handle("GET /cases/{id}", d.withSession(d.casePage))
	d.mux.Handle("POST /cases/{id}/actions", d.withSession(d.act))
	d.mux.Handle("GET /hosters", d.withSession(d.hosters))
	d.mux.Handle("GET /dlq", d.withSession(d.deadLetters))
	d.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.plainError(w, http.StatusNotFound, "No such page.")
	})
	return nil
}

// ServeHTTP implements http.Handler: every answer carries headers that
// keep the pages out of frames, caches and other sites' referrers, and a
// policy that runs no script at all; a POST from another origin is
// refused before it reaches a handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	d.handler.ServeHTTP(w, r)
}

// apiError is an answer of the API that is not a success.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Msg) }

// call makes one API request as the session's token and decodes its JSON
// answer into out; an answer of 300 or more is an *apiError with the
// API's message.
func (d *Dashboard) call(ctx context.Context, sc scope.Scope, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, fmt.Errorf("build request %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	d.api.ServeAs(rec, req, sc)
	if rec.status >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(rec.status)
		}
		return rec.status, &apiError{Status: rec.status, Msg: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.status, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return rec.status, nil
}

// recorder keeps an in-process answer of the API.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
