package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestEveryPageEveryToken logs in with every token and opens every page,
// every case's page and every state's list: an outside token's pages hold
// the URLs of its own cases and none of the others' (nor another hoster's
// address, the dead letter's URL or the hotline's analyst), a case out of
// its scope is not found, and only analysts and admins reach the dead
// letters or get action forms beyond their one action.
func TestEveryPageEveryToken(t *testing.T) {
	t.Parallel()
	w := startWorld(t)
	sees := map[string][]string{
		"alice": {"a1", "a2", "b1", "b2", "de", "review"}, "vera": {"a1", "a2", "b1", "b2", "de", "review"}, "admin": {"a1", "a2", "b1", "b2", "de", "review"},
		"hoster-a": {"a1", "a2"}, "hoster-b": {"b1", "b2"}, "hotline-de": {"de"},
	}
	never := map[string][]string{
		"hoster-a":   {"hoster-b.example", "hotline.example", "dlq.example", "analyst-17"},
		"hoster-b":   {"hoster-a.example", "hotline.example", "dlq.example", "analyst-17"},
		"hotline-de": {"hoster-a.example", "hoster-b.example", "dlq.example", "analyst-17"},
	}
	pages := []string{"/", "/review", "/cases", "/hosters", "/dlq", "/cases?state=removed", "/cases?state=all", "/cases?state=review"}
	for name, mine := range sees {
		b := newBrowser(t, w.base, nil)
		b.login(secret(name))
		var all strings.Builder
		for _, p := range pages {
			resp, page := b.do(http.MethodGet, p, nil, nil)
			wantDLQ := name == "alice" || name == "admin"
			switch {
			case p == "/dlq" && !wantDLQ:
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s opens /dlq: %d, want 403", name, resp.StatusCode)
				}
			case resp.StatusCode != http.StatusOK:
				t.Errorf("%s opens %s: %d", name, p, resp.StatusCode)
			}
			if strings.Contains(page, `href="/dlq"`) != wantDLQ {
				t.Errorf("%s's %s links the dead letters: %v", name, p, !wantDLQ)
			}
			all.WriteString(page)
		}
		for cname, c := range w.cases {
			resp, page := b.do(http.MethodGet, "/cases/"+c.ID, nil, nil)
			visible := contains(mine, cname)
			if visible != (resp.StatusCode == http.StatusOK) || !visible && resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s opens case %s: %d (visible to it: %v)", name, cname, resp.StatusCode, visible)
			}
			if visible {
				forms := strings.Count(page, `class="act"`)
				switch name {
				case "vera":
					if forms != 0 {
						t.Errorf("a viewer is offered %d action forms", forms)
					}
				case "hoster-a", "hoster-b":
					if c.State != "closed" && (forms != 1 || !strings.Contains(page, `data-action="mark_removed"`)) {
						t.Errorf("%s is offered %d forms on case %s, want mark_removed only", name, forms, cname)
					}
				case "hotline-de":
					if forms != 1 || !strings.Contains(page, `data-action="partner_status"`) {
						t.Errorf("%s is offered %d forms on case %s, want partner_status only", name, forms, cname)
					}
				}
			}
			all.WriteString(page)
		}
		got := all.String()
		for cname, c := range w.cases {
			if in := strings.Contains(got, c.URL); in != contains(mine, cname) {
				t.Errorf("%s's pages show the URL of case %s: %v", name, cname, in)
			}
		}
		if leak := containsAny(got, never[name]); leak != "" {
			t.Errorf("%s's pages show %q", name, leak)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
