package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// scopeWorld is a daemon whose store holds five cases, four notices and a
// dead letter written directly (no stage touches them), and a token of
// every role and binding.
type scopeWorld struct {
	d       *daemon
	cases   map[string]takedown.Case // by name
	notices []string
}

// The tokens of the scope tests, by name; each secret is the name's.
var scopeTokens = []config.Token{
	{Name: "viewer", Role: "viewer"},
	{Name: "reader", Role: "reader"},
	{Name: "alice", Role: "analyst"},
	{Name: "admin", Role: "admin"},
	{Name: "hotline-de", Role: "partner", Partner: "DE"},
	{Name: "hotline-fr", Role: "partner", Partner: "FR"},
	{Name: "hoster-a", Role: "hoster", Domains: []string{"hoster-a.nl"}},
	{Name: "hoster-b", Role: "hoster", ASNs: []uint{64501}},
	{Name: "hoster-none", Role: "hoster", Domains: []string{"nobody.example"}},
}

func scopeSecret(name string) string { return "scope-test-token-" + name + "-0123456789abcdef" }

func startScopeWorld(t *testing.T) *scopeWorld {
	t.Helper()
	cfg := testConfig(t.TempDir())
	partners := filepath.Join(cfg.DataDir, "partners.yaml")
	if err := os.WriteFile(partners, []byte("partners:\n"+
		"  - {country: DE, name: Hotline DE, channel: email, address: forward@hotline.example.de}\n"+
		"  - {country: FR, name: Hotline FR, channel: email, address: forward@hotline.example.fr}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Route.PartnersFile = partners
	// Checks asked for resolve nothing (NXDOMAIN from a loopback DNS), so
	// no probe leaves the machine.
	cfg.Enrich.DNS.Servers = []string{dnssim.Start(t).Addr()}
	cfg.API.Tokens = nil
	for _, tok := range scopeTokens {
		tok.Token = config.Secret{Value: scopeSecret(tok.Name)}
		cfg.API.Tokens = append(cfg.API.Tokens, tok)
	}
	w := &scopeWorld{d: startDaemon(t, cfg), cases: map[string]takedown.Case{}}
	w.seed(t)
	return w
}

func (w *scopeWorld) seed(t *testing.T) {
	ctx := t.Context()
	st := w.d.app.store
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	hoster := func(email string) takedown.Contact {
		return takedown.Contact{Email: email, Role: "hoster", Source: takedown.Source{Kind: "rdap_ip"}}
	}
	sent := func(ref, kind, level, to string) takedown.NoticeRef {
		return takedown.NoticeRef{Ref: ref, Kind: kind, Level: level, Channel: "email", To: to, At: now, Outcome: "sent"}
	}
	mk := func(name, url string, n int, state takedown.State, e *takedown.Enrichment, notices ...takedown.NoticeRef) takedown.Case {
		c := takedown.Case{
			ID: store.CaseID(now.Add(time.Duration(n)*time.Minute), uint64(n)), URL: url, OriginalURL: url, State: state, Host: hostOf(url),
			StateReason: "as seeded by analyst-17", ReceivedAt: now, Classification: "A1", ReportCount: 1,
			Reports:    []takedown.ReportRef{{ReportID: "r-" + name, Analyst: "analyst-17", Source: "partner-x", Classification: "A1"}},
			Enrichment: e, Notices: notices,
		}
		if e != nil && len(e.Contacts) > 0 {
			c.Routing = &takedown.Routing{Kind: takedown.RouteHoster, Reason: "hosted in NL", Contacts: e.Contacts[:1]}
		}
		w.cases[name] = c
		return c
	}
	a := mk("a", "http://www.hoster-a.nl/a.jpg", 1, takedown.StateNoticed, &takedown.Enrichment{
		Addresses: []takedown.AddressInfo{{IP: "192.0.2.10", ASN: 64500}},
		Contacts:  []takedown.Contact{hoster("abuse@hoster-a.nl"), {Email: "noc@upstream-x.example", Role: "upstream"}},
		Registrar: &takedown.Registrar{Name: "Registrar X", Abuse: &takedown.Contact{Email: "abuse@registrar-x.example"}},
		Problems:  []string{"rdap: timeout at rdap.internal-x.example"},
	}, sent("TD-A", "first", "hoster", "abuse@hoster-a.nl"), sent("TD-U", "escalation", "upstream", "noc@upstream-x.example"))
	a.Pause = &takedown.Pause{Reason: "police investigation 4711", Until: now.Add(48 * time.Hour), By: "alice", At: now}
	w.cases["a"] = a
	b := mk("b", "http://www.hoster-b.nl/b.jpg", 2, takedown.StateNoticed, &takedown.Enrichment{
		Addresses: []takedown.AddressInfo{{IP: "192.0.2.20", ASN: 64501}}, Contacts: []takedown.Contact{hoster("abuse@hoster-b.nl")},
	}, sent("TD-B", "first", "hoster", "abuse@hoster-b.nl"))
	// Noticed to A, then the material moved to B's network.
	moved := mk("moved", "http://images.example/m.jpg", 3, takedown.StateNoticed, &takedown.Enrichment{
		Addresses: []takedown.AddressInfo{{IP: "192.0.2.21", ASN: 64501}}, Contacts: []takedown.Contact{hoster("abuse@hoster-b.nl")},
	}, sent("TD-A", "first", "hoster", "abuse@hoster-a.nl"), sent("TD-B", "first", "hoster", "abuse@hoster-b.nl"))
	de := mk("de", "http://www.hoster.de/d.jpg", 4, takedown.StateForwarded, &takedown.Enrichment{
		Addresses: []takedown.AddressInfo{{IP: "198.51.100.7", ASN: 64999}}, Contacts: []takedown.Contact{hoster("abuse@hoster.de")},
	}, takedown.NoticeRef{Ref: "TD-F", Kind: "forward", Level: "partner", Channel: "email", To: "forward@hotline.example.de", Partner: "DE", At: now, Outcome: "sent"})
	de.Routing = &takedown.Routing{Kind: takedown.RoutePartner, Country: "DE", Partner: "Hotline DE", Channel: "email"}
	w.cases["de"] = de
	mk("review", "http://review.example.org/r.jpg", 5, takedown.StateReview, nil)
	for _, c := range w.cases {
		if _, err := st.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
		u, err := urlnorm.Parse(c.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ClaimURL(ctx, u.Key(), c.ID); err != nil {
			t.Fatal(err)
		}
		ev := func(typ takedown.EventType, actor, reason string) takedown.Event {
			return takedown.Event{ID: fmt.Sprintf("seed-%s-%s-%d", c.ID, typ, len(reason)), CaseID: c.ID, Type: typ, At: now, Actor: actor, Reason: reason}
		}
		events := []takedown.Event{ev(takedown.EventReceived, "intake", "confirmed report r-1")}
		for _, n := range c.Notices {
			events = append(events, ev(takedown.EventNoticed, "notify", n.Kind+" notice accepted for "+n.To).WithData(map[string]string{"to": n.To}))
		}
		if c.Pause != nil {
			events = append(events, ev(takedown.EventNoticesPaused, "alice", c.Pause.Reason).WithData(map[string]string{"action": takedown.ActionPause, "reason": c.Pause.Reason}))
		}
		if err := st.AppendEvents(ctx, events...); err != nil {
			t.Fatal(err)
		}
	}
	notices, err := store.BindBucket[takedown.Notice](ctx, st, notify.NoticesBucket, "notice")
	if err != nil {
		t.Fatal(err)
	}
	item := func(c takedown.Case) takedown.NoticeItem { return takedown.NoticeItem{CaseID: c.ID, URL: c.URL} }
	for _, n := range []takedown.Notice{
		{Ref: "TD-A", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@hoster-a.nl", State: takedown.NoticeSent, Cases: []string{a.ID, moved.ID}, Items: []takedown.NoticeItem{item(a), item(moved)}},
		{Ref: "TD-B", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@hoster-b.nl", State: takedown.NoticeSent, Cases: []string{b.ID, moved.ID}, Items: []takedown.NoticeItem{item(b), item(moved)}},
		{Ref: "TD-U", Kind: "escalation", Level: "upstream", Channel: "email", To: "noc@upstream-x.example", State: takedown.NoticeSent, Cases: []string{a.ID}, Items: []takedown.NoticeItem{item(a)}},
		{Ref: "TD-F", Kind: "forward", Level: "partner", Channel: "email", To: "forward@hotline.example.de", Partner: "DE", State: takedown.NoticeSent, Cases: []string{de.ID}, Items: []takedown.NoticeItem{item(de)}},
	} {
		if _, err := notices.Create(ctx, n.Ref, n); err != nil {
			t.Fatal(err)
		}
		w.notices = append(w.notices, n.Ref)
	}
	// A remembered contact, which only the hotline's own roles read.
	if _, err := w.d.app.contacts.Remember(ctx, kvbook.Record{Kind: "domain", Match: "hoster-a.nl", Emails: []string{"desk@hoster-a.nl"}, By: "alice", Note: "internal-x note"}); err != nil {
		t.Fatal(err)
	}
	// A rejected report with a URL of its own.
	w.d.publish([]byte(`{"report_id":"bad","url":"http://dlq.example/secret.jpg"}`), "bad")
	w.d.settle()
}

// call makes one request with a token ("" for none) and returns the
// status and body.
func (w *scopeWorld) call(t *testing.T, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+w.d.app.APIAddr()+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+scopeSecret(token))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// sees says which seeded cases and notices a token sees.
var sees = map[string]struct{ cases, notices []string }{
	"viewer":      {[]string{"a", "b", "moved", "de", "review"}, []string{"TD-A", "TD-B", "TD-U", "TD-F"}},
	"reader":      {[]string{"a", "b", "moved", "de", "review"}, []string{"TD-A", "TD-B", "TD-U", "TD-F"}},
	"alice":       {[]string{"a", "b", "moved", "de", "review"}, []string{"TD-A", "TD-B", "TD-U", "TD-F"}},
	"admin":       {[]string{"a", "b", "moved", "de", "review"}, []string{"TD-A", "TD-B", "TD-U", "TD-F"}},
	"hotline-de":  {[]string{"de"}, []string{"TD-F"}},
	"hotline-fr":  {nil, nil},
	"hoster-a":    {[]string{"a", "moved"}, []string{"TD-A"}},
	"hoster-b":    {[]string{"b", "moved"}, []string{"TD-B"}},
	"hoster-none": {nil, nil},
}

// never lists what an outside token must not find in any answer, beyond
// the URLs of the cases it does not see: others' addresses, the
// hotline's internal words (a pause's reason, an analyst, a report's
// source, a state's reason, enrichment problems), the dead letter.
var never = map[string][]string{
	"hotline-de":  {"hoster-a.nl", "hoster-b.nl", "upstream-x", "registrar-x"},
	"hotline-fr":  {"@"},
	"hoster-a":    {"hoster-b.nl", "upstream-x", "registrar-x", "hotline.example", "hoster.de"},
	"hoster-b":    {"hoster-a.nl", "upstream-x", "registrar-x", "hotline.example", "hoster.de"},
	"hoster-none": {"@"},
}

var internalWords = []string{"police investigation", "analyst-17", "partner-x", "alice", "internal-x", "dlq.example", "scope-test-token"}

// TestEveryRouteEveryRole goes through every route the API answers (its
// registry) with every role and binding, and every seeded case and
// notice in the path: a role the route does not list gets 403, a case or
// notice out of scope is not found, and no answer to an outside token
// holds anything beyond its scope — lists, the review queue, notices,
// timelines, dead letters, tokens, and whatever routes are added later.
func TestEveryRouteEveryRole(t *testing.T) {
	t.Parallel()
	w := startScopeWorld(t)
	roleOf := map[string]scope.Role{}
	for _, tok := range scopeTokens {
		r, _ := scope.ParseRole(tok.Role)
		roleOf[tok.Name] = r
	}
	answers := map[string][]string{} // token → every body it got
	for _, rt := range w.d.app.api.Routes() {
		for _, tok := range append([]string{""}, names(scopeTokens)...) {
			for _, path := range w.paths(rt) {
				var body []byte
				if strings.HasSuffix(rt.Path, "/actions") {
					// Recorded and done: no stage is asked for work.
					body = []byte(`{"action":"partner_status","status":"in_progress","note":"walk"}`)
				}
				code, got := w.call(t, rt.Method, path, tok, body)
				if len(rt.Roles) > 0 {
					// A route that needs no token answers everyone alike
					// (the API's description holds an @ in its prose).
					answers[tok] = append(answers[tok], string(got))
				}
				w.checkStatus(t, rt, path, tok, roleOf[tok], code, got)
			}
		}
	}
	for tok, bodies := range answers {
		if tok == "" || roleOf[tok].Internal() {
			continue
		}
		all := strings.Join(bodies, "\n")
		forbidden := append(append([]string{}, never[tok]...), internalWords...)
		for name, c := range w.cases {
			if !contains(sees[tok].cases, name) {
				forbidden = append(forbidden, c.URL, c.ID)
			}
		}
		for _, f := range forbidden {
			if strings.Contains(all, f) {
				t.Errorf("token %s was shown %q", tok, f)
			}
		}
		for _, name := range sees[tok].cases {
			if !strings.Contains(all, w.cases[name].URL) {
				t.Errorf("token %s never saw the URL of case %s it may see", tok, name)
			}
		}
	}
}

// paths are the concrete paths of a route: one per seeded case, notice or
// dead letter for a route with such a parameter.
func (w *scopeWorld) paths(rt api.Route) []string {
	var out []string
	switch {
	case strings.Contains(rt.Path, "{id}"):
		for _, c := range w.cases {
			out = append(out, strings.Replace(rt.Path, "{id}", c.ID, 1))
		}
	case strings.Contains(rt.Path, "{ref}"):
		for _, ref := range w.notices {
			out = append(out, strings.Replace(rt.Path, "{ref}", ref, 1))
		}
	case strings.Contains(rt.Path, "{hoster}"):
		for _, c := range w.cases {
			out = append(out, strings.Replace(rt.Path, "{hoster}", stats.HosterKey(&c), 1))
		}
	case strings.Contains(rt.Path, "{key}"):
		out = append(out, strings.Replace(rt.Path, "{key}", "domain.hoster-a.nl", 1))
	case strings.Contains(rt.Path, "{seq}"):
		out = append(out, strings.Replace(rt.Path, "{seq}", "1", 1))
	case strings.Contains(rt.Path, "{"):
		panic("route with an unknown parameter: " + rt.Path + " (add it to scopeWorld.paths)")
	default:
		out = append(out, rt.Path)
		if rt.Path == "/v1/cases" {
			for _, c := range w.cases {
				out = append(out, "/v1/cases?url="+c.URL)
			}
			out = append(out, "/v1/cases?state=noticed", "/v1/cases?limit=1")
		}
	}
	return out
}

func (w *scopeWorld) checkStatus(t *testing.T, rt api.Route, path, tok string, role scope.Role, code int, body []byte) {
	t.Helper()
	what := fmt.Sprintf("%s %s as %q", rt.Method, path, tok)
	switch {
	case len(rt.Roles) == 0:
		if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound {
			t.Errorf("%s: %d, want an answer without a token", what, code)
		}
		return
	case tok == "":
		if code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", what, code)
		}
		return
	case !contains(rt.Roles, role):
		if code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403 (role %s not allowed)", what, code, role)
		}
		return
	}
	for name, c := range w.cases {
		if strings.Contains(path, c.ID) || strings.HasSuffix(path, "url="+c.URL) {
			if visible := contains(sees[tok].cases, name); visible == (code == http.StatusNotFound) {
				t.Errorf("%s: %d (case %s visible to it: %v): %s", what, code, name, visible, body)
			}
		}
	}
	for _, ref := range w.notices {
		if strings.HasSuffix(path, "/"+ref) {
			if visible := contains(sees[tok].notices, ref); visible != (code == http.StatusOK) {
				t.Errorf("%s: %d (notice %s visible to it: %v): %s", what, code, ref, visible, body)
			}
		}
	}
	if code >= 500 {
		t.Errorf("%s: %d: %s", what, code, body)
	}
}

func hostOf(u string) string {
	host, _, _ := strings.Cut(strings.TrimPrefix(u, "http://"), "/")
	return host
}

func names(toks []config.Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Name
	}
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestScopedLists: each token lists exactly the cases it sees, the
// review queue included, and GET /v1/tokens names roles and bindings but
// no secret.
func TestScopedLists(t *testing.T) {
	t.Parallel()
	w := startScopeWorld(t)
	for tok, want := range sees {
		code, body := w.call(t, http.MethodGet, "/v1/cases?limit=2", tok, nil)
		var list api.CaseList
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("list as %s: %d %s", tok, code, body)
		}
		got := w.nameAll(t, tok, list)
		if !sameSet(got, want.cases) {
			t.Errorf("%s lists %v, want %v", tok, got, want.cases)
		}
		code, body = w.call(t, http.MethodGet, "/v1/review", tok, nil)
		list = api.CaseList{}
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("review as %s: %d %s", tok, code, body)
		}
		inReview := len(list.Cases) == 1 && list.Cases[0].ID == w.cases["review"].ID
		if inReview != contains(want.cases, "review") || len(list.Cases) > 1 {
			t.Errorf("%s's review queue: %+v", tok, list.Cases)
		}
	}
	code, body := w.call(t, http.MethodGet, "/v1/tokens", "admin", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"hoster-b"`) || !strings.Contains(string(body), "64501") ||
		!strings.Contains(string(body), `"Hotline DE"`) || strings.Contains(string(body), "scope-test-token") || strings.Contains(string(body), "forward@") {
		t.Errorf("GET /v1/tokens: %d %s", code, body)
	}
}

// nameAll follows every page of a list and names the seeded cases on it.
func (w *scopeWorld) nameAll(t *testing.T, tok string, list api.CaseList) []string {
	var got []string
	for {
		for _, c := range list.Cases {
			for name, s := range w.cases {
				if s.ID == c.ID {
					got = append(got, name)
				}
			}
		}
		if list.NextCursor == "" {
			return got
		}
		_, body := w.call(t, http.MethodGet, "/v1/cases?limit=2&cursor="+list.NextCursor, tok, nil)
		list = api.CaseList{}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}
