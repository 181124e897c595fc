package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func (d *daemon) post(path, token string) int {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(d.t.Context(), http.MethodPost, "http://"+d.app.APIAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCheckOnDemandThroughAPI boots the daemon with the prober pointed at
// a loopback hoster by connect_to, and asks for checks through the API.
func TestCheckOnDemandThroughAPI(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/material.jpg", hostersim.Content([]byte("confirmed")))
	cfg := testConfig(t.TempDir())
	cfg.API.Tokens = append(cfg.API.Tokens, config.Token{Name: "analyst", Role: "analyst", Token: config.Secret{Value: "test-token-analyst"}})
	cfg.Recheck.Probe.AllowPrivate = true
	cfg.Recheck.Probe.ConnectTo = map[string]string{"hoster.test:80": srv.Addr()}
	d := startDaemon(t, cfg)
	st := d.app.Store()
	now := time.Now().UTC()
	cases := map[string]takedown.State{
		"0000000000000A01": takedown.StateNoticed,
		"0000000000000A02": takedown.StateReceived,
		"0000000000000A03": takedown.StateClosed,
	}
	for id, state := range cases {
		c := takedown.Case{
			ID: id, URL: "http://hoster.test/material.jpg", State: state, ReceivedAt: now,
			Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now},
		}
		if _, err := st.CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, id, token string
		want            int
	}{
		{"reader may not ask", "0000000000000A01", "test-token-reader", http.StatusForbidden},
		{"unknown case", "0000000000000B01", testToken, http.StatusNotFound},
		{"case not noticed yet", "0000000000000A02", testToken, http.StatusConflict},
		{"closed case", "0000000000000A03", testToken, http.StatusConflict},
		{"analyst asks", "0000000000000A01", "test-token-analyst", http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.post("/v1/cases/"+tt.id+"/check", tt.token); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
	if c := d.waitChecked("0000000000000A01"); c.Checks.LastVerdict != "online" || c.Checks.NextCheckAt.IsZero() {
		t.Errorf("after the check: verdict %q, next %v; want online with a next check", c.Checks.LastVerdict, c.Checks.NextCheckAt)
	}
	if hits := srv.Hits("/material.jpg"); hits != 1 {
		t.Errorf("hoster saw %d requests, want 1", hits)
	}
	events, err := st.Timeline(t.Context(), "0000000000000A01")
	if err != nil {
		t.Fatal(err)
	}
	// The request is an action on the timeline, by the token that asked.
	if len(events) != 2 || events[0].Type != takedown.EventCheckRequested || events[0].Actor != "analyst" ||
		events[1].Type != takedown.EventChecked || events[1].Actor != "recheck" {
		t.Errorf("timeline %+v, want the analyst's check_requested, then one checked event by recheck", events)
	}
	at, ok, err := recheckPending(d, "0000000000000A01")
	if err != nil || !ok || at.IsZero() {
		t.Errorf("no next check scheduled (%v)", err)
	}
}

// waitChecked waits until the case has one check on record.
func (d *daemon) waitChecked(id string) takedown.Case {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		c, _, err := d.app.Store().GetCase(d.t.Context(), id)
		if err != nil {
			d.t.Fatal(err)
		}
		if c.Checks != nil && c.Checks.Checks >= 1 {
			return c
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("no check of case %s on record within 20s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func recheckPending(d *daemon, id string) (time.Time, bool, error) {
	s, err := recheck.NewScheduler(d.t.Context(), d.app.Store())
	if err != nil {
		return time.Time{}, false, err
	}
	return s.Pending(d.t.Context(), id)
}

// TestProberRefusesLoopbackByDefault: without allow_private, a case whose
// URL points at a loopback hoster is never fetched; the check is
// inconclusive with the refusal as its reason.
func TestProberRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/x", hostersim.Content([]byte("confirmed")))
	d := startDaemon(t, testConfig(t.TempDir()))
	st := d.app.Store()
	id := "0000000000000C01"
	now := time.Now().UTC()
	c := takedown.Case{ID: id, URL: srv.URL() + "/x", State: takedown.StateNoticed, ReceivedAt: now,
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now}}
	if _, err := st.CreateCase(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if got := d.post("/v1/cases/"+id+"/check", testToken); got != http.StatusAccepted {
		t.Fatalf("status %d, want 202", got)
	}
	if c := d.waitChecked(id); c.Checks.LastVerdict != "inconclusive" {
		t.Errorf("verdict %q, want inconclusive", c.Checks.LastVerdict)
	}
	if hits := srv.Hits("/x"); hits != 0 {
		t.Errorf("loopback hoster saw %d requests, want 0", hits)
	}
	events, err := st.Timeline(t.Context(), id)
	if err != nil || len(events) != 2 || events[0].Type != takedown.EventCheckRequested || !strings.Contains(events[1].Reason, "address_refused") {
		t.Errorf("timeline %+v (%v), want the request, then one checked event with reason address_refused", events, err)
	}
}
