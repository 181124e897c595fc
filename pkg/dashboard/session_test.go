package dashboard_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/dashboard"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// browser is a plain HTTP client that keeps cookies and follows no
// redirect, as the tests check each step.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string, client *http.Client) *browser {
	jar, _ := cookiejar.New(nil)
	if client == nil {
		client = &http.Client{}
	}
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: client, base: base}
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(b.t.Context(), method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp, string(got)
}

func (b *browser) login(token string) *http.Response {
	b.t.Helper()
	resp, _ := b.do(http.MethodPost, "/login", url.Values{"token": {token}, "next": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: %d", resp.StatusCode)
	}
	return resp
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the session's pages.
func (b *browser) csrf() string {
	b.t.Helper()
	resp, page := b.do(http.MethodGet, "/", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("no CSRF token on the overview (%d)", resp.StatusCode)
	}
	return m[1]
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "takedownd_session") {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

// TestLoginLogout: pages need a login; a wrong token is refused without a
// cookie; the session cookie is HttpOnly, SameSite=Strict, for the whole
// site, and holds neither the token nor anything but a random id; a
// logout needs the CSRF token, clears the cookie and ends the session on
// the server, so the old cookie opens nothing.
func TestLoginLogout(t *testing.T) {
	t.Parallel()
	w := startWorld(t)
	b := newBrowser(t, w.base, nil)

	resp, _ := b.do(http.MethodGet, "/review", nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next=%2Freview" {
		t.Fatalf("GET /review without a session: %d to %q", resp.StatusCode, loc)
	}
	resp, page := b.do(http.MethodPost, "/login", url.Values{"token": {"not-a-token"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || !strings.Contains(page, "not known") {
		t.Fatalf("login with an unknown token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp = b.login(secret("alice"))
	c := sessionCookie(t, resp)
	if c.Name != "takedownd_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.Domain != "" {
		t.Errorf("session cookie over plain HTTP: %+v", c)
	}
	if strings.Contains(c.Value, secret("alice")) || strings.Contains(c.Value, "alice") || len(c.Value) < 40 {
		t.Errorf("session cookie value %q: want a random id only", c.Value)
	}
	resp, page = b.do(http.MethodGet, "/", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<span id="who">alice</span>`) {
		t.Fatalf("overview after login: %d", resp.StatusCode)
	}
	for h, want := range map[string]string{"Content-Security-Policy": "script-src", "X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) && !(h == "Content-Security-Policy" && strings.Contains(got, "default-src 'none'")) {
			t.Errorf("%s: %q", h, got)
		}
	}
	token := b.csrf()

	if resp, _ := b.do(http.MethodPost, "/logout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, _ = b.do(http.MethodPost, "/logout", url.Values{"csrf": {token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if gone := sessionCookie(t, resp); gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("logout's cookie: %+v, want it cleared", gone)
	}
	// The old cookie, replayed, opens nothing: the session is gone.
	old := newBrowser(t, w.base, nil)
	u, _ := url.Parse(w.base)
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value}})
	if resp, _ := old.do(http.MethodGet, "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the old cookie after logout: %d, want the login page", resp.StatusCode)
	}
}

// TestActionsNeedCSRFAndSameOrigin: an action without the session's CSRF
// token, with another session's, or sent from another site (by
// Sec-Fetch-Site or Origin) is refused and changes nothing; the same
// form from the dashboard itself is the API's action, with the token's
// name on the event.
func TestActionsNeedCSRFAndSameOrigin(t *testing.T) {
	t.Parallel()
	w := startWorld(t)
	b := newBrowser(t, w.base, nil)
	b.login(secret("alice"))
	token := b.csrf()
	other := newBrowser(t, w.base, nil)
	other.login(secret("admin"))
	otherToken := other.csrf()

	id := w.cases["a2"].ID
	path := "/cases/" + id + "/actions"
	pause := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "action": {"pause"}, "until": {"48h"}, "reason": {"investigation"}}
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no CSRF token", pause(""), nil},
		{"another session's CSRF token", pause(otherToken), nil},
		{"from another site (Sec-Fetch-Site)", pause(token), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"from another origin (Origin)", pause(token), map[string]string{"Origin": "http://attacker.example"}},
	} {
		if resp, _ := b.do(http.MethodPost, path, c.form, c.header); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, resp.StatusCode)
		}
	}
	var v api.CaseView
	if w.apiGet(t, "/v1/cases/"+id, "admin", &v); v.Case.Pause != nil {
		t.Fatalf("a refused form paused the case: %+v", v.Case.Pause)
	}

	resp, _ := b.do(http.MethodPost, path, pause(token), map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": w.base})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/cases/"+id {
		t.Fatalf("pause from the dashboard: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	w.apiGet(t, "/v1/cases/"+id, "admin", &v)
	last := v.Timeline[len(v.Timeline)-1]
	if v.Case.Pause == nil || v.Case.Pause.By != "alice" || last.Type != takedown.EventNoticesPaused || last.Actor != "alice" {
		t.Fatalf("after the pause: %+v, last event %+v", v.Case.Pause, last)
	}
	_, page := b.do(http.MethodGet, "/cases/"+id, nil, nil)
	if !strings.Contains(page, `id="flash"`) || !strings.Contains(page, "pause recorded") {
		t.Errorf("the case page does not tell the action's outcome")
	}
	// A refusal comes back as the API's reason.
	b.do(http.MethodPost, path, url.Values{"csrf": {token}, "action": {"resume"}, "reason": {"done"}}, nil)
	b.do(http.MethodPost, path, url.Values{"csrf": {token}, "action": {"resume"}, "reason": {"again"}}, nil)
	if _, page := b.do(http.MethodGet, "/cases/"+id, nil, nil); !strings.Contains(page, "resume refused") || !strings.Contains(page, "not paused") {
		t.Errorf("a refused resume is not told")
	}
	// A viewer sees no forms and may not act.
	viewer := newBrowser(t, w.base, nil)
	viewer.login(secret("vera"))
	vtoken := viewer.csrf()
	if _, page := viewer.do(http.MethodGet, "/cases/"+id, nil, nil); strings.Contains(page, `class="act"`) {
		t.Errorf("a viewer is offered actions")
	}
	viewer.do(http.MethodPost, path, url.Values{"csrf": {vtoken}, "action": {"check"}}, nil)
	if _, page := viewer.do(http.MethodGet, "/cases/"+id, nil, nil); !strings.Contains(page, "check refused") {
		t.Errorf("a viewer's action is not refused")
	}
}

// fakeAPI is a stand-in for the API (our own interface): one token, and
// an answer to every call.
type fakeAPI struct{}

func (fakeAPI) Authenticate(s string) (scope.Scope, bool) {
	return scope.Scope{Token: "alice", Role: scope.Analyst}, s == "good"
}

func (fakeAPI) ServeAs(w http.ResponseWriter, _ *http.Request, _ scope.Scope) {
	api.WriteJSON(w, http.StatusOK, map[string]any{})
}

// TestSessionRules: under TLS the cookie is Secure with the __Host-
// prefix; a login never sends the browser off the site; a session ends
// after its idle time and after its maximum age, on the server's clock.
func TestSessionRules(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	d, err := dashboard.New(dashboard.Options{API: fakeAPI{}, SessionIdle: time.Hour, SessionMax: 3 * time.Hour, Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(d)
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL, srv.Client())

	for next, want := range map[string]string{"//attacker.example/x": "/", "https://attacker.example/": "/", "/\\attacker.example": "/", "/hosters?sort=cases": "/hosters?sort=cases"} {
		resp, _ := b.do(http.MethodPost, "/login", url.Values{"token": {"good"}, "next": {next}}, nil)
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("login with next %q goes to %q, want %q", next, got, want)
		}
		c := sessionCookie(t, resp)
		if c.Name != "__Host-takedownd_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
			t.Errorf("session cookie under TLS: %+v", c)
		}
	}
	alive := func() bool {
		resp, _ := b.do(http.MethodGet, "/cases", nil, nil)
		return resp.StatusCode == http.StatusOK
	}
	if !alive() {
		t.Fatal("no session after login")
	}
	for i := range 4 { // used every 50 minutes: idle never runs out...
		offset.Store(int64(time.Duration(i+1) * 50 * time.Minute))
		if got, want := alive(), (i+1)*50 <= 180; got != want {
			t.Errorf("at %d minutes: session alive %v, want %v (the maximum age is 3 h)", (i+1)*50, got, want)
		}
	}
	offset.Store(0)
	b.login("good")
	offset.Store(int64(61 * time.Minute))
	if alive() {
		t.Errorf("a session idle for 61 minutes is still alive (idle limit 1 h)")
	}
}

// TestOutsideTokensAct: a partner hotline reports a status and a hoster
// reports a removal from their case pages, as the API's actions with
// their token's name; an action outside their role is refused.
func TestOutsideTokensAct(t *testing.T) {
	t.Parallel()
	w := startWorld(t)
	for _, c := range []struct {
		token, caseName string
		form            url.Values
		event           takedown.EventType
	}{
		{"hotline-de", "de", url.Values{"action": {"partner_status"}, "status": {"in_progress"}, "note": {"with the hoster"}}, takedown.EventPartnerStatus},
		{"hoster-a", "a2", url.Values{"action": {"mark_removed"}, "note": {"deleted"}}, takedown.EventRemovalReported},
	} {
		b := newBrowser(t, w.base, nil)
		b.login(secret(c.token))
		id := w.cases[c.caseName].ID
		c.form.Set("csrf", b.csrf())
		if resp, _ := b.do(http.MethodPost, "/cases/"+id+"/actions", c.form, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", c.token, resp.StatusCode)
		}
		var v api.CaseView
		w.apiGet(t, "/v1/cases/"+id, "admin", &v)
		// (A reported removal asks for a check, whose events may follow.)
		if !slices.ContainsFunc(v.Timeline, func(e takedown.Event) bool { return e.Type == c.event && e.Actor == c.token }) {
			t.Errorf("%s's action: no %s event by it in %+v", c.token, c.event, v.Timeline)
		}
		b.do(http.MethodPost, "/cases/"+id+"/actions", url.Values{"csrf": {c.form.Get("csrf")}, "action": {"close"}, "as": {"not_actionable"}, "reason": {"mine"}}, nil)
		if _, page := b.do(http.MethodGet, "/cases/"+id, nil, nil); !strings.Contains(page, "close refused") {
			t.Errorf("%s may close a case through the dashboard", c.token)
		}
	}
}

// TestFailedLoginsAreLimited: ten failed logins from one address refuse
// the next, even with a good token, until ten minutes have passed; a
// good login before the limit clears the count.
func TestFailedLoginsAreLimited(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	d, err := dashboard.New(dashboard.Options{API: fakeAPI{}, Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL, nil)
	try := func(token string) int {
		resp, _ := b.do(http.MethodPost, "/login", url.Values{"token": {token}}, nil)
		return resp.StatusCode
	}
	for range 9 {
		try("bad")
	}
	if got := try("good"); got != http.StatusSeeOther {
		t.Fatalf("a good login after 9 failures: %d", got)
	}
	for i := range 10 {
		if got := try("bad"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d after a good login: %d, want 401 (the good login cleared the count)", i+1, got)
		}
	}
	if got := try("good"); got != http.StatusTooManyRequests {
		t.Errorf("a good login after 10 failures: %d, want 429", got)
	}
	offset.Store(int64(11 * time.Minute))
	if got := try("good"); got != http.StatusSeeOther {
		t.Errorf("a good login 11 minutes later: %d", got)
	}
}
