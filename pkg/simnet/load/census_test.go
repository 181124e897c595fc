package load

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestCensusPageAsksSmaller: a daemon that cannot answer a page of 1,000
// (here: it drops the connection, as its API write timeout does) is asked
// for smaller pages, and the census goes on; one that never answers ends
// it with the cause.
func TestCensusPageAsksSmaller(t *testing.T) {
	var limits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := r.URL.Query().Get("limit")
		limits = append(limits, limit)
		if limit == "1000" {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
			return
		}
		_, _ = w.Write([]byte(`{"cases":[{"id":"c1","state":"enriched"}],"next_cursor":"c1"}`))
	}))
	defer srv.Close()
	api := strings.TrimPrefix(srv.URL, "http://")
	page, err := censusPage(t.Context(), srv.Client(), api, "token", url.Values{"state": {"enriched"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Cases) != 1 || page.Next != "c1" {
		t.Fatalf("page %+v", page)
	}
	if strings.Join(limits, ",") != "1000,250" {
		t.Fatalf("asked with limits %v, want 1000 then 250", limits)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	if _, err := censusPage(t.Context(), down.Client(), strings.TrimPrefix(down.URL, "http://"), "token", url.Values{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a daemon that never answers: %v", err)
	}
}
