package app

import (
	"bytes"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// flow is the daemon against a simulated internet in which one Dutch
// hoster (abuse@hoster-a.nl) serves the URL flowURL.
type flow struct {
	d      *daemon
	relay  *smtpsim.Server
	hoster *hostersim.Server
}

const flowURL = "http://www.hoster-a.nl/img/a.jpg"

func startFlow(t *testing.T, mut func(*config.Config)) *flow {
	t.Helper()
	cfg := testConfig(t.TempDir())
	sn := simnetEnrich(t, &cfg, []geoipsim.Network{{Prefix: netip.MustParsePrefix("185.0.1.0/24"), Country: "NL", ASN: 64500, Org: "Hoster A B.V."}})
	if err := sn.RDAP.Server("ripe").AddNetwork(rdapsim.Network{Prefix: netip.MustParsePrefix("185.0.1.0/24"), Handle: "HOSTER-A-NET", Country: "NL", AbuseEmail: "abuse@hoster-a.nl"}); err != nil {
		t.Fatal(err)
	}
	sn.DNS.AddAddr("www.hoster-a.nl", 300, netip.MustParseAddr("185.0.1.10"))

	relay, err := smtpsim.New(smtpsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port, cfg.Notify.SMTP.TLS = relay.Host(), relay.Port(), "none"
	cfg.Notify.BatchWindow = 0

	hoster := hostersim.Start(t)
	hoster.Set("/img/a.jpg", hostersim.Content([]byte("confirmed material stand-in")))
	cfg.Recheck.Probe.AllowPrivate = true // the simulated hoster lives on loopback
	cfg.Recheck.Probe.ConnectTo = map[string]string{"www.hoster-a.nl:80": hoster.Addr()}
	cfg.Recheck.Cadence = []time.Duration{300 * time.Millisecond, 2 * time.Second}
	cfg.Recheck.ConfirmGone = 2
	cfg.Recheck.ConfirmSpacing = 300 * time.Millisecond
	cfg.Recheck.StaysGone = []time.Duration{500 * time.Millisecond}
	if mut != nil {
		mut(&cfg)
	}
	return &flow{d: startDaemon(t, cfg), relay: relay, hoster: hoster}
}

// TestWholeFlow follows one confirmed URL through every stage of the
// daemon against the simulated internet: the report becomes a case, the
// case is enriched (DNS, RDAP, GeoIP), routed to the Dutch hoster, noticed
// by e-mail through a real SMTP relay, re-checked against the hoster's web
// server, and closed once the material is gone and stays gone.
func TestWholeFlow(t *testing.T) {
	t.Parallel()
	f := startFlow(t, nil)
	d, relay, hoster := f.d, f.relay, f.hoster
	const u = flowURL
	d.publish(report("flow-1", u), "flow-1")
	d.settle()

	v := d.waitFor(u, takedown.StateNoticed, takedown.StateRemoved, takedown.StateClosed)
	msgs := relay.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "abuse@hoster-a.nl" {
		t.Fatalf("relay got %d messages (%+v), want one notice to abuse@hoster-a.nl", len(msgs), msgs)
	}
	if !bytes.Contains(msgs[0].Data, []byte("www.hoster-a.nl")) || !bytes.Contains(msgs[0].Data, []byte("xarf-1.json")) {
		t.Error("the notice lacks the host or its X-ARF part")
	}
	if len(v.Case.Notices) != 1 || v.Case.Notices[0].Outcome != "sent" {
		t.Errorf("case notices = %+v", v.Case.Notices)
	}
	var rec struct {
		Ref   string `json:"ref"`
		State string `json:"state"`
	}
	if code := d.get("/v1/notices/"+v.Case.Notices[0].Ref, testToken, &rec); code != http.StatusOK || rec.State != "sent" {
		t.Errorf("GET /v1/notices/%s: %d %+v", v.Case.Notices[0].Ref, code, rec)
	}

	// The first re-check finds the material online.
	d.waitChecks(u, func(c *takedown.CheckState) bool { return !c.LastOnlineAt.IsZero() })

	// The hoster takes the material down: removal is confirmed after two
	// spaced misses, then the case closes after the stays-gone check.
	hoster.Set("/img/a.jpg", hostersim.Status(http.StatusNotFound))
	v = d.waitFor(u, takedown.StateClosed)
	for _, typ := range []takedown.EventType{takedown.EventReceived, takedown.EventEnriched, takedown.EventRouted, takedown.EventNoticed, takedown.EventChecked, takedown.EventRemoved, takedown.EventClosed} {
		if hasEvent(v, typ) == nil {
			t.Errorf("timeline lacks %s: %+v", typ, v.Timeline)
		}
	}
	if v.Case.Checks == nil || v.Case.Checks.RemovedAt.IsZero() || v.Case.Checks.LastOnlineAt.IsZero() {
		t.Errorf("checks = %+v, want removal time and last time online", v.Case.Checks)
	}
	metrics := d.scrape()
	for _, want := range []string{
		`takedownd_mail_recipients_total{outcome="accepted"} 1`,
		`takedownd_probes_total{reason="http_404",verdict="gone"}`,
		`takedownd_events_total{type="removed"} 1`,
		`takedownd_rdap_queries_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// waitChecks waits until the URL's case's check state satisfies ok.
func (d *daemon) waitChecks(u string, ok func(*takedown.CheckState) bool) {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		var v api.CaseView
		if d.get("/v1/cases?url="+u, testToken, &v) == http.StatusOK && v.Case.Checks != nil && ok(v.Case.Checks) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("case of %s: checks never reached the expected state", u)
}

// waitFor waits until the URL's case is in one of the states.
func (d *daemon) waitFor(u string, states ...takedown.State) api.CaseView {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	var v api.CaseView
	for time.Now().Before(deadline) {
		v = api.CaseView{}
		if d.get("/v1/cases?url="+u, testToken, &v) == http.StatusOK {
			for _, s := range states {
				if v.Case.State == s {
					return v
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("case of %s is %s, want one of %v; timeline %+v", u, v.Case.State, states, v.Timeline)
	return v
}

// TestReappearance takes the material down, confirms the removal, puts it
// back before the "stays gone" check: the case reopens and the hoster gets
// a notice that says the material reappeared.
func TestReappearance(t *testing.T) {
	t.Parallel()
	f := startFlow(t, func(cfg *config.Config) { cfg.Recheck.StaysGone = []time.Duration{2 * time.Second, time.Hour} })
	f.d.publish(report("reappear-1", flowURL), "reappear-1")
	f.d.settle()
	f.d.waitFor(flowURL, takedown.StateNoticed)
	f.hoster.Set("/img/a.jpg", hostersim.Status(http.StatusNotFound))
	f.d.waitFor(flowURL, takedown.StateRemoved)
	f.hoster.Set("/img/a.jpg", hostersim.Content([]byte("confirmed material stand-in")))

	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		for _, m := range f.relay.Messages() {
			if bytes.Contains(m.Data, []byte("X-Takedown-Kind: reappeared")) {
				v := f.d.waitFor(flowURL, takedown.StateNoticed)
				if hasEvent(v, takedown.EventReopened) == nil || v.Case.Checks == nil || v.Case.Checks.Reopened != 1 {
					t.Errorf("case after reappearance: checks %+v, timeline %+v", v.Case.Checks, v.Timeline)
				}
				if m.To[0] != "abuse@hoster-a.nl" {
					t.Errorf("reappeared notice to %v", m.To)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no reappeared notice; relay got %d messages", len(f.relay.Messages()))
}
