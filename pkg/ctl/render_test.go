package ctl

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func TestStatusToExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   int
		msg    string
	}{
		{"server error", http.StatusInternalServerError, ExitError, "internal error"},
		{"backend timeout", http.StatusServiceUnavailable, ExitError, "backend timeout"},
		{"unauthorized", http.StatusUnauthorized, ExitUnauthorized, "refused the token from -token"},
		{"forbidden", http.StatusForbidden, ExitUnauthorized, "may not call /v1/cases"},
		{"not found", http.StatusNotFound, ExitNotFound, "not found"},
		{"bad request", http.StatusBadRequest, ExitUsage, "the API rejected the request"},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer secret" {
				t.Errorf("%s: authorization %q", tc.name, r.Header.Get("Authorization"))
			}
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(`{"error":"` + tc.msg + `"}`))
		}))
		code, _, stderr := run(t, nil, "", "-api", srv.URL, "-token", "secret", "list")
		srv.Close()
		if code != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, code, tc.want)
		}
		if !strings.Contains(stderr, tc.msg) {
			t.Errorf("%s: stderr %q lacks %q", tc.name, stderr, tc.msg)
		}
		if strings.Contains(stderr, "secret") {
			t.Errorf("%s: stderr shows the token: %q", tc.name, stderr)
		}
	}
}

func TestPrintCaseShowsWhatIsKnown(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	full := api.CaseView{
		Case: takedown.Case{
			ID: "1M8D0Z5N70000001", URL: "http://h.example.nl/a", OriginalURL: "HTTP://H.example.nl/a", Host: "h.example.nl",
			Domain: "example.nl", State: takedown.StateNoticed, ReceivedAt: at, Priority: "high", Classification: "B1",
			Reports: []takedown.ReportRef{{ReportID: "r-1", ConfirmedAt: at, Classification: "B1", Analyst: "an-1"}}, ReportCount: 1,
			Enrichment: &takedown.Enrichment{
				At: at, Host: "h.example.nl", CNAMEs: []string{"h.example.nl", "edge.cdn.example"},
				Addresses: []takedown.AddressInfo{{IP: "192.0.2.7", Country: "NL", ASN: 64500, ASName: "HostCo", Network: "NET-1"}},
				Contacts:  []takedown.Contact{{Email: "abuse@hostco.example", Role: "hoster", Source: takedown.Source{Kind: "rdap_ip", Handle: "NET-1"}}},
				Registrar: &takedown.Registrar{Name: "RegCo", Abuse: &takedown.Contact{Email: "abuse@regco.example"}},
				CDN:       &takedown.CDN{Name: "ExampleCDN", MatchedBy: "asn:64500", OriginUnknown: true},
				Country:   takedown.CountryDecision{Rule: "agree", GeoIP: "NL", RDAP: "NL", Country: "NL"},
			},
			Routing: &takedown.Routing{At: at, Kind: takedown.RouteHoster, Reason: "hosted in NL", Country: "NL", Lang: "nl",
				Contacts: []takedown.Contact{{Email: "abuse@hostco.example", Role: "hoster"}}},
			Notices: []takedown.NoticeRef{{Ref: "TD-7", Kind: "first", Channel: "email", To: "abuse@hostco.example", At: at, Outcome: "accepted"}},
			Checks:  &takedown.CheckState{Checks: 3, LastCheckedAt: at, LastVerdict: "online", NextCheckAt: at.Add(time.Hour)},
		},
		Timeline: []takedown.Event{{Type: takedown.EventNoticed, At: at, Actor: "notify", From: takedown.StateRouted, To: takedown.StateNoticed, Reason: "notice TD-7"}},
	}
	tests := []struct {
		name   string
		view   api.CaseView
		want   []string
		absent []string
	}{
		{"everything", full, []string{
			"State          noticed", "Reported as    HTTP://H.example.nl/a", "Host           h.example.nl, domain example.nl",
			"r-1  confirmed 2026-11-26T10:00:00Z  B1  analyst an-1",
			"Country      NL, rule agree, geoip NL, rdap NL", "CNAMEs       h.example.nl → edge.cdn.example",
			"192.0.2.7  NL  AS64500 HostCo  net NET-1", "CDN          ExampleCDN, asn:64500, origin unknown",
			"abuse@hostco.example (hoster, rdap_ip NET-1)", "Registrar    RegCo, abuse abuse@regco.example",
			"Routing        hoster — hosted in NL", "TD-7", "accepted", "Checks         3, last 2026-11-26T10:00:00Z (online)",
			"routed→noticed", "notice TD-7",
		}, nil},
		{"fresh case", api.CaseView{Case: takedown.Case{ID: "X", URL: "http://a.example/", State: takedown.StateReceived}},
			[]string{"Case           X", "Timeline"}, []string{"Enrichment", "Routing", "Notices", "Checks", "Reported as"}},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		printCase(&buf, tc.view)
		for _, w := range tc.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, buf.String())
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(buf.String(), a) {
				t.Errorf("%s: output has %q:\n%s", tc.name, a, buf.String())
			}
		}
	}
}
