package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Tokens of the action tests (their secrets are scopeSecret(name)).
var actionTokens = []config.Token{
	{Name: "alice", Role: "analyst"},
	{Name: "hotline-de", Role: "partner", Partner: "DE"},
	{Name: "hoster-a", Role: "hoster", Domains: []string{"hoster-a.nl"}},
}

// reviewWorld is the daemon against a simulated internet in which a case
// lands in review for each reason the pipeline has, and the people who
// move them on: an analyst, a partner hotline and a hoster's desk.
type reviewWorld struct {
	d      *daemon
	sn     *simInternet
	relay  *smtpsim.Server
	hoster *hostersim.Server
}

func startReviewWorld(t *testing.T) *reviewWorld {
	t.Helper()
	cfg := testConfig(t.TempDir())
	net, addr := netip.MustParsePrefix, netip.MustParseAddr
	sn := simnetEnrich(t, &cfg, []geoipsim.Network{
		{Prefix: net("185.0.1.0/24"), Country: "NL", ASN: 64500, Org: "Hoster A B.V."},
		{Prefix: net("185.0.2.0/24"), Country: "NL", ASN: 64502, Org: "No Abuse B.V."},
		{Prefix: net("185.0.4.0/24"), Country: "US", ASN: 64504, Org: "Hoster US Inc."},
		{Prefix: net("185.0.6.0/24"), Country: "NL", ASN: 64506, Org: "Bouncy B.V."},
		{Prefix: net("185.0.7.0/24"), Country: "DE", ASN: 64507, Org: "Hoster DE GmbH"},
		{Prefix: net("104.16.0.0/13"), Country: "NL", ASN: 13335, Org: "CLOUDFLARENET"},
	})
	ripe, arin := sn.RDAP.Server("ripe"), sn.RDAP.Server("arin")
	for _, n := range []struct {
		srv *rdapsim.Server
		n   rdapsim.Network
	}{
		{ripe, rdapsim.Network{Prefix: net("185.0.1.0/24"), Handle: "HOSTER-A-NET", Country: "NL", AbuseEmail: "abuse@hoster-a.nl"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.2.0/24"), Handle: "NOABUSE-NET", Country: "NL"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.3.0/24"), Handle: "NOWHERE-NET", AbuseEmail: "abuse@nowhere.example"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.4.0/24"), Handle: "HOSTER-US-NET", Country: "US", AbuseEmail: "abuse@hoster.us"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.6.0/24"), Handle: "BOUNCY-NET", Country: "NL", AbuseEmail: "abuse@bouncy.nl"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.7.0/24"), Handle: "HOSTER-DE-NET", Country: "DE", AbuseEmail: "abuse@hoster.de"}},
		{arin, rdapsim.Network{Prefix: net("104.16.0.0/24"), Handle: "NET-104-16-0-0-1", Country: "US", AbuseEmail: "abuse@cloudflare.com"}},
	} {
		if err := n.srv.AddNetwork(n.n); err != nil {
			t.Fatal(err)
		}
	}
	for host, ip := range map[string]string{
		"www.hoster-a.nl": "185.0.1.10", "www.no-abuse.nl": "185.0.2.10", "www2.no-abuse.nl": "185.0.2.11",
		"www.nowhere.example": "185.0.3.10", "www.hoster.us": "185.0.4.10", "www.other.us": "185.0.4.11",
		"www.bouncy.nl": "185.0.6.10", "www.hoster.de": "185.0.7.10", "www.behind-cdn.nl": "104.16.0.7",
	} {
		sn.DNS.AddAddr(host, 300, addr(ip))
	}
	cfg.Enrich.MaxAttempts = 2
	cfg.Enrich.DNS.CacheSize = -1 // broken.nl comes back
	sn.DNS.SetMode("broken.nl", dnssim.ModeServFail)
	cfg.Route.AbroadWithoutPartner = "review"
	cfg.Route.CDNNotice = false
	partners := filepath.Join(cfg.DataDir, "partners.yaml")
	if err := os.WriteFile(partners, []byte("partners:\n  - {country: DE, name: Hotline DE, channel: email, address: forward@hotline.example.de}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Route.PartnersFile = partners
	for _, tok := range actionTokens {
		tok.Token = config.Secret{Value: scopeSecret(tok.Name)}
		cfg.API.Tokens = append(cfg.API.Tokens, tok)
	}

	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	relay.SetFault("abuse@bouncy.nl", smtpsim.PermRcpt)
	cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port, cfg.Notify.SMTP.TLS = relay.Host(), relay.Port(), "none"
	cfg.Notify.BatchWindow = 0

	hoster := hostersim.Start(t)
	hoster.Set("/a.jpg", hostersim.Content([]byte("confirmed material stand-in")))
	cfg.Recheck.Probe.AllowPrivate = true
	cfg.Recheck.Probe.ConnectTo = map[string]string{"www.hoster-a.nl:80": hoster.Addr()}
	cfg.Recheck.Cadence = []time.Duration{time.Hour}
	cfg.Recheck.ConfirmGone = 2
	cfg.Recheck.ConfirmSpacing = 300 * time.Millisecond
	cfg.Recheck.StaysGone = []time.Duration{time.Hour}
	return &reviewWorld{d: startDaemon(t, cfg), sn: sn, relay: relay, hoster: hoster}
}

// act posts an action as a token and returns the status and answer.
func (w *reviewWorld) act(t *testing.T, id, token, body string) (int, api.ActionAnswer, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+w.d.app.APIAddr()+"/v1/cases/"+id+"/actions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var ans api.ActionAnswer
	_ = json.Unmarshal(raw, &ans)
	return resp.StatusCode, ans, string(raw)
}

// mailTo waits for a message to addr naming the URL.
func (w *reviewWorld) mailTo(t *testing.T, addr, u string) smtpsim.Message {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		for _, m := range w.relay.Messages() {
			if len(m.To) > 0 && m.To[0] == addr && bytes.Contains(m.Data, []byte(strings.TrimPrefix(u, "http://"))) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no message to %s naming %s; relay holds %d", addr, u, len(w.relay.Messages()))
	return smtpsim.Message{}
}

// TestReviewQueueThroughTheAPI sends a case into review for each reason
// the pipeline has — no abuse contact, no known country, abroad without a
// partner, behind a CDN whose notices are off, every contact bouncing,
// DNS failing, a partner hotline finding the material legal in its
// country — and moves each on with the action that fits, through the API
// alone, until the party that can remove the material is told (or the
// case closes). A contact remembered for a network is then used by the
// next case's enrichment on that network without review.
func TestReviewQueueThroughTheAPI(t *testing.T) {
	t.Parallel()
	w := startReviewWorld(t)
	d := w.d
	alice, partner, hosterA := scopeSecret("alice"), scopeSecret("hotline-de"), scopeSecret("hoster-a")
	urls := map[string]string{
		"no abuse":   "http://www.no-abuse.nl/a.jpg",
		"no country": "http://www.nowhere.example/a.jpg",
		"abroad":     "http://www.hoster.us/a.jpg",
		"close":      "http://www.other.us/a.jpg",
		"cdn":        "http://www.behind-cdn.nl/a.jpg",
		"bounce":     "http://www.bouncy.nl/a.jpg",
		"dns":        "http://broken.nl/a.jpg",
		"partner":    "http://www.hoster.de/a.jpg",
		"hoster a":   "http://www.hoster-a.nl/a.jpg",
	}
	for name, u := range urls {
		d.publish(report("review-"+strings.ReplaceAll(name, " ", "-"), u), "")
	}
	d.settle()
	inReview := func(name, reasonIn string) api.CaseView {
		t.Helper()
		v := d.waitFor(urls[name], takedown.StateReview, takedown.StateForwarded, takedown.StateNoticed)
		if v.Case.State != takedown.StateReview || !strings.Contains(v.Case.StateReason, reasonIn) {
			t.Fatalf("%s: %s (%q), want review with %q", name, v.Case.State, v.Case.StateReason, reasonIn)
		}
		return v
	}
	moveOn := func(v api.CaseView, body string) api.ActionAnswer {
		t.Helper()
		code, ans, raw := w.act(t, v.Case.ID, alice, body)
		if code != http.StatusAccepted && code != http.StatusOK {
			t.Fatalf("%s on %s: %d %s", body, v.Case.URL, code, raw)
		}
		if ans.Event.Actor != "alice" {
			t.Errorf("event %+v, want alice's", ans.Event)
		}
		return ans
	}

	t.Run("no abuse contact: a contact remembered for the network", func(t *testing.T) {
		v := inReview("no abuse", "no working abuse contact")
		moveOn(v, `{"action":"add_contact","contact":{"email":"desk@no-abuse.nl","name":"No Abuse B.V."},"remember":"network","note":"their desk, by phone"}`)
		w.mailTo(t, "desk@no-abuse.nl", urls["no abuse"])
		d.waitFor(urls["no abuse"], takedown.StateNoticed)
		// The next case on that network is told at once.
		next := "http://www2.no-abuse.nl/b.jpg"
		d.publish(report("review-remembered", next), "")
		w.mailTo(t, "desk@no-abuse.nl", next)
		nv := d.waitFor(next, takedown.StateNoticed)
		if c := nv.Case.Enrichment.Contacts[0]; c.Email != "desk@no-abuse.nl" || c.Source.Kind != "contact_book" || !strings.Contains(c.Source.Note, "remembered by alice") {
			t.Errorf("first contact of the next case: %+v", c)
		}
	})
	t.Run("hosting country unknown: routed to a contact", func(t *testing.T) {
		v := inReview("no country", "hosting country unknown")
		moveOn(v, `{"action":"route","contact":{"email":"abuse@nowhere.example"},"reason":"RDAP names them"}`)
		w.mailTo(t, "abuse@nowhere.example", urls["no country"])
	})
	t.Run("abroad without a partner: routed to the hoster", func(t *testing.T) {
		v := inReview("abroad", "direct notices abroad are switched off")
		moveOn(v, `{"action":"route","contact":{"email":"abuse@hoster.us","language":"en"}}`)
		w.mailTo(t, "abuse@hoster.us", urls["abroad"])
	})
	t.Run("abroad without a partner: closed", func(t *testing.T) {
		v := inReview("close", "direct notices abroad are switched off")
		ans := moveOn(v, `{"action":"close","as":"not_actionable","reason":"a test page of the police"}`)
		if ans.State != takedown.StateClosed || ans.Event.Type != takedown.EventClosed {
			t.Errorf("closed: %+v", ans)
		}
	})
	t.Run("behind a CDN whose notices are off: the origin's contact added", func(t *testing.T) {
		v := inReview("cdn", "CDN notices are switched off")
		moveOn(v, `{"action":"add_contact","contact":{"email":"abuse@origin.nl"}}`)
		w.mailTo(t, "abuse@origin.nl", urls["cdn"])
	})
	t.Run("every contact bounced: another added", func(t *testing.T) {
		v := inReview("bounce", "every contact failed")
		moveOn(v, `{"action":"add_contact","contact":{"email":"desk@bouncy.nl"}}`)
		w.mailTo(t, "desk@bouncy.nl", urls["bounce"])
	})
	t.Run("dns failing: enrichment retried", func(t *testing.T) {
		v := inReview("dns", "dns failed 2 times")
		w.sn.DNS.SetMode("broken.nl", dnssim.ModeAnswer)
		w.sn.DNS.AddAddr("broken.nl", 300, netip.MustParseAddr("185.0.1.20"))
		moveOn(v, `{"action":"retry_enrichment","note":"their DNS is back"}`)
		w.mailTo(t, "abuse@hoster-a.nl", urls["dns"])
	})
	t.Run("a partner finds it legal: the hoster told directly", func(t *testing.T) {
		v := d.waitFor(urls["partner"], takedown.StateForwarded)
		w.mailTo(t, "forward@hotline.example.de", urls["partner"])
		if code, _, raw := w.act(t, v.Case.ID, partner, `{"action":"partner_status","status":"not_illegal","note":"drawn; legal here"}`); code != http.StatusOK {
			t.Fatalf("partner status: %d %s", code, raw)
		}
		v = inReview("partner", "not illegal in its country: drawn; legal here")
		moveOn(v, `{"action":"route","contact":{"email":"abuse@hoster.de"},"reason":"our law applies"}`)
		w.mailTo(t, "abuse@hoster.de", urls["partner"])
	})
	t.Run("a hoster reports its removal: re-checks confirm it", func(t *testing.T) {
		v := d.waitFor(urls["hoster a"], takedown.StateNoticed)
		if code, _, raw := w.act(t, v.Case.ID, hosterA, `{"action":"close","as":"not_actionable","reason":"not ours"}`); code != http.StatusForbidden {
			t.Errorf("a hoster closing: %d %s", code, raw)
		}
		if code, _, _ := w.act(t, d.caseByURL(urls["abroad"]).Case.ID, hosterA, `{"action":"mark_removed"}`); code != http.StatusNotFound {
			t.Errorf("a hoster acting on another's case: %d, want 404", code)
		}
		w.hoster.Set("/a.jpg", hostersim.Status(http.StatusNotFound))
		code, ans, raw := w.act(t, v.Case.ID, hosterA, `{"action":"mark_removed","note":"deleted 10:02"}`)
		if code != http.StatusAccepted || ans.State != takedown.StateNoticed || ans.Event.Type != takedown.EventRemovalReported {
			t.Fatalf("removal report: %d %s", code, raw)
		}
		// The claim asks for a check now; the second confirming check
		// follows the spacing, and only then is it removed.
		v = d.waitFor(urls["hoster a"], takedown.StateRemoved)
		if ev := hasEvent(v, takedown.EventRemovalReported); ev == nil || ev.Actor != "hoster-a" {
			t.Errorf("timeline lacks the hoster's report: %+v", v.Timeline)
		}
	})
	// Nothing is left in the queue.
	var list api.CaseList
	if code := d.get("/v1/review", testToken, &list); code != http.StatusOK || len(list.Cases) != 0 {
		for _, c := range list.Cases {
			t.Errorf("still in review: %s (%s)", c.URL, c.StateReason)
		}
	}
}

// TestCtlActions takes every action through takedownctl, as the README
// shows them, with the tokens that may and may not.
func TestCtlActions(t *testing.T) {
	t.Parallel()
	w := startScopeWorld(t)
	d := w.d
	as := func(token string, args ...string) ctlRun {
		t.Helper()
		return d.ctl(nil, "", append([]string{"-token", scopeSecret(token)}, args...)...)
	}
	a, b, de, rev := w.cases["a"].ID, w.cases["b"].ID, w.cases["de"].ID, w.cases["review"].ID
	lines := []struct {
		token string
		args  []string
		code  int
		out   string // in stdout (ok) or stderr (not)
	}{
		{"alice", []string{"pause", b, "-until", "48h", "-reason", "investigation 4711"}, 0, b + "\tnoticed\tnotices paused; re-checks go on"},
		{"alice", []string{"pause", b, "-until", "48h"}, 2, "reason: missing"},
		{"alice", []string{"resume", b, "-reason", "cleared"}, 0, "notices resumed"},
		{"alice", []string{"resume", b}, 5, "notices are not paused"},
		{"alice", []string{"check", rev}, 5, "is review: no notice went out"},
		{"alice", []string{"add-contact", strings.ToLower(rev), "-contact", "desk@review.example.org", "-remember", "domain", "-note", "their desk"}, 0, "\tcontact added (queued: enrich)"},
		{"alice", []string{"route", rev, "-partner", "XX"}, 2, "partner: no partner hotline"},
		{"alice", []string{"route", rev, "-lang", "nl"}, 2, "-name and -lang go with -contact"},
		{"alice", []string{"enrich", a, "-note", "their DNS changed"}, 0, "(queued: enrich)"},
		{"hoster-a", []string{"removed", a, "-note", "deleted 10:02"}, 0, "removal reported"},
		{"hoster-a", []string{"close", a, "-as", "not_actionable", "-reason", "ours"}, 4, "may not take the action close"},
		{"hoster-a", []string{"removed", b}, 3, "case " + b + " not found"},
		{"hotline-de", []string{"partner-status", de, "-status", "in_progress", "-note", "with the police"}, 0, "status recorded"},
		{"viewer", []string{"check", a}, 4, "may not call POST /v1/cases/{id}/actions"},
		{"alice", []string{"close", b, "-as", "duplicate", "-duplicate-of", strings.ToLower(a), "-reason", "the same image"}, 0, b + "\tclosed\tclosed"},
		{"alice", []string{"tokens"}, 4, "may not call GET /v1/tokens"},
		{"viewer", []string{"contacts"}, 0, "domain.review.example.org\tdesk@review.example.org\talice"},
		{"hoster-a", []string{"contacts"}, 4, "may not call GET /v1/contacts"},
		{"viewer", []string{"contacts", "forget", "domain.review.example.org"}, 4, "may not call DELETE /v1/contacts/{key}"},
		{"alice", []string{"contacts", "forget", "domain.review.example.org"}, 0, "domain.review.example.org\tforgotten"},
		{"alice", []string{"contacts", "forget", "domain.review.example.org"}, 3, "no remembered contact"},
		{"admin", []string{"tokens"}, 0, "hotline-de\tpartner\tDE (Hotline DE)"},
	}
	for _, l := range lines {
		r := as(l.token, l.args...)
		where := r.stdout
		if l.code != 0 {
			where = r.stderr
		}
		if r.code != l.code || !strings.Contains(where, l.out) {
			t.Errorf("%s %v: exit %d\nstdout %s\nstderr %s\nwant exit %d with %q", l.token, l.args, r.code, r.stdout, r.stderr, l.code, l.out)
		}
	}
	r := as("admin", "tokens")
	if !strings.Contains(r.stdout, "hoster-b\thoster\tAS64501") || strings.Contains(r.stdout, "scope-test-token") {
		t.Errorf("tokens: %s", r.stdout)
	}
	var v api.CaseView
	if _, body := w.call(t, http.MethodGet, "/v1/cases/"+b, "admin", nil); json.Unmarshal(body, &v) != nil || v.Case.State != takedown.StateClosed || hasEvent(v, takedown.EventNoticesResumed) == nil || hasEvent(v, takedown.EventNoticesPaused) == nil {
		t.Errorf("case b after the actions: %s, timeline %+v", v.Case.State, v.Timeline)
	}
}
