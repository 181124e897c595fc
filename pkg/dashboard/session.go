package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/scope"
)

// Sessions live in this process's memory: the cookie carries a random id
// and nothing else, so no token and no scope ever leaves the server, and
// a logout (or a restart) ends the session for good. Behind a load
// balancer with several replicas a session holds on the replica it was
// made on.

// Cookie names: under TLS the __Host- prefix makes the browser refuse a
// cookie that is not Secure, host-only and for the whole site.
const (
	cookiePlain  = "takedownd_session"
	cookieSecure = "__Host-takedownd_session"
)

// session is one logged-in person.
type session struct {
	key   [32]byte // digest of the cookie's id: the id itself is not kept
	scope scope.Scope
	// csrf is the token every form of the session carries.
	csrf    string
	created time.Time
	seen    time.Time
	// flash is a message for the next page (an action's outcome).
	flash flash
}

type flash struct {
	Text  string
	Error bool
}

type sessions struct {
	mu        sync.Mutex
	m         map[[32]byte]*session
	idle, max time.Duration
	limit     int
	now       func() time.Time
}

func newSessions(idle, max time.Duration, limit int, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, max: max, limit: limit, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start makes a session for the scope and returns it with its cookie id.
func (ss *sessions) start(sc scope.Scope) (*session, string) {
	id := randomToken()
	now := ss.now()
	s := &session{key: sha256.Sum256([]byte(id)), scope: sc, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.expireLocked(now)
	if len(ss.m) >= ss.limit {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.seen.Before(oldest.seen) {
				oldest = o
			}
		}
		delete(ss.m, oldest.key)
	}
	ss.m[s.key] = s
	return s, id
}

// get returns the live session of the cookie's id and marks it used.
func (ss *sessions) get(id string) (*session, bool) {
	if id == "" {
		return nil, false
	}
	key := sha256.Sum256([]byte(id))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[key]
	if !ok {
		return nil, false
	}
	if ss.expired(s, now) {
		delete(ss.m, key)
		return nil, false
	}
	s.seen = now
	return s, true
}

func (ss *sessions) end(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, s.key)
}

// takeFlash returns the session's message for this page and clears it.
func (ss *sessions) takeFlash(s *session) flash {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = flash{}
	return f
}

func (ss *sessions) setFlash(s *session, f flash) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.flash = f
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) > ss.idle || now.Sub(s.created) > ss.max
}

func (ss *sessions) expireLocked(now time.Time) {
	for k, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, k)
		}
	}
}

// cookieName is the session cookie's name on this connection.
func cookieName(r *http.Request) string {
	if r.TLS != nil {
		return cookieSecure
	}
	return cookiePlain
}

// setCookie gives the browser the session's id: not readable by scripts,
// never sent by another site's requests, only over TLS when the
// connection is TLS.
func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// withSession runs h for a request of a live session; a request without
// one goes to the login page (a GET) or is refused (anything else). A
// POST must carry the session's CSRF token.
func (d *Dashboard) withSession(h func(w http.ResponseWriter, r *http.Request, s *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if c, err := r.Cookie(cookieName(r)); err == nil {
			id = c.Value
		}
		s, ok := d.sessions.get(id)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			d.plainError(w, http.StatusUnauthorized, "Your session has ended: log in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !sameToken(r.PostFormValue("csrf"), s.csrf) {
				d.log.Warn("dashboard request refused: CSRF token", "path", r.URL.Path, "token", s.scope.Token)
				d.plainError(w, http.StatusForbidden, "This form is out of date or did not come from this dashboard: reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	})
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

func sameToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// localPath is next if it is a path on this site, "/" otherwise: a login
// never sends the browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "login", nil, loginData{Next: localPath(r.URL.Query().Get("next"))})
}

type loginData struct {
	Next  string
	Error string
}

// login checks the token and starts a session. The token itself is not
// kept: the session holds the scope it maps to.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	next := localPath(r.PostFormValue("next"))
	client := clientOf(r)
	if d.throttle.blocked(client) {
		d.log.Warn("dashboard login refused: too many failures", "remote", client)
		d.render(w, r, http.StatusTooManyRequests, "login", nil, loginData{Next: next, Error: "Too many failed logins from here: try again in a few minutes."})
		return
	}
	sc, ok := d.api.Authenticate(r.PostFormValue("token"))
	if !ok {
		d.throttle.failed(client)
		d.log.Warn("dashboard login refused", "remote", client)
		d.render(w, r, http.StatusUnauthorized, "login", nil, loginData{Next: next, Error: "That token is not known."})
		return
	}
	d.throttle.succeeded(client)
	_, id := d.sessions.start(sc)
	d.setCookie(w, r, id, int(d.sessions.max/time.Second))
	d.log.Info("dashboard login", "token", sc.Token, "role", sc.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, s *session) {
	d.sessions.end(s)
	d.setCookie(w, r, "", -1)
	d.log.Info("dashboard logout", "token", s.scope.Token)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
