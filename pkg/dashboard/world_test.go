package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// world is a daemon in-process on loopback whose store holds a seeded set
// of cases, written through the store (no stage made them), with a token
// of each role.
type world struct {
	a     *app.App
	base  string // http://127.0.0.1:port
	cases map[string]takedown.Case
}

// The tokens, by name; each secret is secret(name).
var worldTokens = []config.Token{
	{Name: "alice", Role: "analyst"},
	{Name: "vera", Role: "viewer"},
	{Name: "admin", Role: "admin"},
	{Name: "hoster-a", Role: "hoster", Domains: []string{"hoster-a.example"}},
	{Name: "hoster-b", Role: "hoster", ASNs: []uint{64501}},
	{Name: "hotline-de", Role: "partner", Partner: "DE"},
}

func secret(name string) string { return "dashboard-test-token-" + name + "-0123456789" }

func startWorld(t *testing.T) *world {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.NATS.Embedded.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Enrich.Enabled = false
	cfg.Route.PartnersFile = filepath.Join(cfg.DataDir, "partners.yaml")
	if err := os.WriteFile(cfg.Route.PartnersFile, []byte("partners:\n  - {country: DE, name: Hotline DE, channel: email, address: forward@hotline.example.de}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Re-checks the daemon makes of the seeded cases resolve nothing
	// (NXDOMAIN from a loopback DNS): no probe leaves the machine.
	cfg.Enrich.DNS.Servers = []string{dnssim.Start(t).Addr()}
	for _, tok := range worldTokens {
		tok.Token = config.Secret{Value: secret(tok.Name)}
		cfg.API.Tokens = append(cfg.API.Tokens, tok)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(t.Context(), app.Options{Config: cfg, Log: log})
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon stopped with error: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("daemon did not stop within a minute")
		}
	})
	w := &world{a: a, base: "http://" + a.APIAddr(), cases: map[string]takedown.Case{}}
	w.seed(t, cfg.DataDir)
	return w
}

// Confirmations of the seeded cases are ten days back, so every removal
// window of the statistics is decided for them.
func (w *world) seed(t *testing.T, dataDir string) {
	ctx := t.Context()
	st := w.a.Store()
	base := time.Now().Add(-10 * 24 * time.Hour).UTC().Truncate(time.Second)
	hoster := func(email string, asn uint) *takedown.Enrichment {
		return &takedown.Enrichment{
			Country:   takedown.CountryDecision{Country: "NL"},
			Addresses: []takedown.AddressInfo{{IP: fmt.Sprintf("192.0.2.%d", asn-64400), ASN: asn, Network: fmt.Sprintf("NET-%d", asn)}},
			Contacts:  []takedown.Contact{{Email: email, Role: "hoster", Source: takedown.Source{Kind: "rdap_ip"}}},
		}
	}
	mk := func(name, u string, n int, state takedown.State, e *takedown.Enrichment, noticeAfter, removedAfter time.Duration) {
		confirmed := base.Add(time.Duration(n) * time.Hour)
		c := takedown.Case{
			ID: store.CaseID(confirmed, uint64(n)), URL: u, OriginalURL: u, Host: hostOf(u), State: state,
			ReceivedAt: confirmed, UpdatedAt: confirmed, Classification: "A1", Priority: takedown.PriorityNormal, Enrichment: e,
		}
		c.AddReport(takedown.ReportRef{ReportID: "r-" + name, ReceivedAt: confirmed, ConfirmedAt: confirmed, Classification: "A1", Analyst: "analyst-17"})
		events := []takedown.Event{{ID: "seed-received-" + c.ID, CaseID: c.ID, Type: takedown.EventReceived, At: confirmed, Actor: "intake", Reason: "confirmed report r-" + name}}
		if e != nil && len(e.Contacts) > 0 {
			c.Routing = &takedown.Routing{At: confirmed, Kind: takedown.RouteHoster, Country: "NL", Reason: "hosted in NL", Contacts: e.Contacts}
		}
		if noticeAfter > 0 && state == takedown.StateForwarded {
			at := confirmed.Add(noticeAfter)
			c.Routing = &takedown.Routing{At: confirmed, Kind: takedown.RoutePartner, Country: "DE", Partner: "Hotline DE", Channel: "email", Reason: "hosted in DE"}
			c.Notices = []takedown.NoticeRef{{Ref: "TD-" + name, Kind: takedown.NoticeKindForward, Level: "partner", Channel: "email", To: "forward@hotline.example.de", Partner: "DE", At: at, Outcome: "sent"}}
			c.Checks = &takedown.CheckState{WatchedSince: at}
			events = append(events, takedown.Event{ID: "seed-forwarded-" + c.ID, CaseID: c.ID, Type: takedown.EventForwarded, At: at, Actor: "notify", Reason: "forwarded to Hotline DE", From: takedown.StateRouted, To: takedown.StateForwarded})
		} else if noticeAfter > 0 {
			at := confirmed.Add(noticeAfter)
			to := e.Contacts[0].Email
			c.Notices = []takedown.NoticeRef{{Ref: "TD-" + name, Kind: takedown.NoticeKindFirst, Level: "hoster", Channel: "email", To: to, At: at, Outcome: "sent"}}
			c.Checks = &takedown.CheckState{WatchedSince: at}
			events = append(events, takedown.Event{ID: "seed-noticed-" + c.ID, CaseID: c.ID, Type: takedown.EventNoticed, At: at, Actor: "notify", Reason: "first notice accepted", From: takedown.StateRouted, To: takedown.StateNoticed})
		}
		if removedAfter > 0 {
			at := confirmed.Add(removedAfter)
			c.Checks.FirstRemovedAt, c.Checks.RemovedAt = at, at
			events = append(events, takedown.Event{ID: "seed-removed-" + c.ID, CaseID: c.ID, Type: takedown.EventRemoved, At: at, Actor: "recheck", Reason: "gone: 404", From: takedown.StateNoticed, To: takedown.StateRemoved})
		}
		if state == takedown.StateReview {
			c.StateReason = "hosted in NL but no working abuse contact found"
			events = append(events, takedown.Event{ID: "seed-review-" + c.ID, CaseID: c.ID, Type: takedown.EventReview, At: confirmed, Actor: "route", Reason: c.StateReason, From: takedown.StateEnriched, To: takedown.StateReview})
		}
		if _, err := st.CreateCase(ctx, c); err != nil {
			t.Fatal(err)
		}
		nu, err := urlnorm.Parse(c.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.ClaimURL(ctx, nu.Key(), c.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.AppendEvents(ctx, events...); err != nil {
			t.Fatal(err)
		}
		w.cases[name] = c
	}
	// To removal: 3 h, 30 h, 8 d → p50 30 h; to first notice (or
	// forward): 30 m, 1 h, 1 h, 1 h, 2 h → p50 1 h.
	mk("a1", "http://www.hoster-a.example/one.jpg", 1, takedown.StateRemoved, hoster("abuse@hoster-a.example", 64500), time.Hour, 3*time.Hour)
	mk("a2", "http://files.hoster-a.example/two.jpg", 2, takedown.StateNoticed, hoster("abuse@hoster-a.example", 64500), 30*time.Minute, 0)
	mk("b1", "http://cdn.hoster-b.example/three.jpg", 3, takedown.StateRemoved, hoster("abuse@hoster-b.example", 64501), 2*time.Hour, 30*time.Hour)
	mk("b2", "http://img.hoster-b.example/four.jpg", 4, takedown.StateRemoved, hoster("abuse@hoster-b.example", 64501), time.Hour, 8*24*time.Hour)
	mk("de", "http://www.hoster.example.de/six.jpg", 6, takedown.StateForwarded, &takedown.Enrichment{
		Country:   takedown.CountryDecision{Country: "DE"},
		Addresses: []takedown.AddressInfo{{IP: "198.51.100.7", ASN: 64999}},
		Contacts:  []takedown.Contact{{Email: "abuse@hoster.example.de", Role: "hoster"}},
	}, time.Hour, 0)
	mk("review", "http://review.example/five.jpg", 5, takedown.StateReview, &takedown.Enrichment{Country: takedown.CountryDecision{Country: "NL"}}, 0, 0)

	// A rejected report, which only the analysts and admins see.
	opts, err := broker.ClientOptions(broker.RoleAnalyst, broker.SeedFile(dataDir, broker.RoleAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(w.a.NATSURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(ctx, "takedown.reports", []byte(`{"report_id":"broken","url":"http://dlq.example/x.jpg"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the statistics to count the seeded cases and the dead letter to be kept", func() bool {
		var s stats.Stats
		var dl struct {
			DeadLetters []store.DeadLetter `json:"dead_letters"`
		}
		return w.apiGet(t, "/v1/stats", "admin", &s) == http.StatusOK && s.Cases == len(w.cases) &&
			w.apiGet(t, "/v1/dlq", "admin", &dl) == http.StatusOK && len(dl.DeadLetters) == 1
	})
}

// apiGet reads the API as a token, for what the pages must agree with.
func (w *world) apiGet(t *testing.T, path, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, w.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+secret(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func hostOf(u string) string {
	p, _ := url.Parse(u)
	return p.Hostname()
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// urlsOf are the URLs of the named seeded cases.
func (w *world) urlsOf(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, w.cases[n].URL)
	}
	return out
}

func containsAny(s string, subs []string) string {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}
