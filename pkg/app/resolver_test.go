package app

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestProberResolvesThroughConfiguredDNS shows that re-checks ask the DNS
// servers of the configuration (here a loopback server), not the system's:
// a name only that server knows is probed, and a name it calls NXDOMAIN is
// judged gone.
func TestProberResolvesThroughConfiguredDNS(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/x", hostersim.Content([]byte("confirmed")))
	_, port, _ := strings.Cut(srv.Addr(), ":")
	dnsSrv := dnssim.Start(t)
	dnsSrv.AddAddr("known.probe.test", 60, netip.MustParseAddr("127.0.0.1"))
	dnsSrv.SetMode("vanished.probe.test", dnssim.ModeNXDomain)

	cfg := testConfig(t.TempDir())
	cfg.Enrich.DNS.Servers = []string{dnsSrv.Addr()}
	cfg.Recheck.Probe.AllowPrivate = true
	d := startDaemon(t, cfg)
	now := time.Now().UTC()
	cases := map[string]string{
		"0000000000000D01": "http://known.probe.test:" + port + "/x",
		"0000000000000D02": "http://vanished.probe.test:" + port + "/x",
	}
	for id, u := range cases {
		c := takedown.Case{ID: id, URL: u, State: takedown.StateNoticed, ReceivedAt: now,
			Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now}}
		if _, err := d.app.Store().CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if got := d.post("/v1/cases/"+id+"/check", testToken); got != http.StatusAccepted {
			t.Fatalf("check %s: status %d", id, got)
		}
	}
	if c := d.waitChecked("0000000000000D01"); c.Checks.LastVerdict != "online" {
		t.Errorf("known name: verdict %q, want online", c.Checks.LastVerdict)
	}
	if c := d.waitChecked("0000000000000D02"); c.Checks.LastVerdict != "gone" {
		t.Errorf("NXDOMAIN name: verdict %q, want gone", c.Checks.LastVerdict)
	}
	if srv.Hits("/x") != 1 {
		t.Errorf("hoster saw %d requests, want 1", srv.Hits("/x"))
	}
	if dnsSrv.QueriesFor("known.probe.test") == 0 {
		t.Error("the configured DNS server was never asked")
	}
}
