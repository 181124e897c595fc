package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDashboardMounted: the API's listener serves the dashboard at / and
// its pages, and the API's routes (any /v1 path, health, metrics) stay
// the API's, answering JSON.
func TestDashboardMounted(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		path, wantType string
		want           int
		location       string
	}{
		{"/", "", http.StatusSeeOther, "/login?next=%2F"},
		{"/login", "text/html", http.StatusOK, ""},
		{"/assets/style.css", "text/css", http.StatusOK, ""},
		{"/no-such-page", "text/html", http.StatusNotFound, ""},
		{"/v1/no-such-route", "", http.StatusNotFound, ""},
		{"/v1/cases", "application/json", http.StatusUnauthorized, ""},
		{"/healthz", "application/json", http.StatusOK, ""},
		{"/metrics", "text/plain", http.StatusOK, ""},
	} {
		resp, err := client.Get("http://" + d.app.APIAddr() + c.path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.wantType) || resp.Header.Get("Location") != c.location {
			t.Errorf("GET %s: %d %q to %q, want %d %q to %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), c.want, c.wantType, c.location)
		}
	}
}
