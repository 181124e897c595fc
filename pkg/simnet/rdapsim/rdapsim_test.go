package rdapsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func startSim(t *testing.T) *Sim {
	t.Helper()
	sim, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func get(t *testing.T, sim *Sim, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sim.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestServesFixturesAtRealPaths(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	tests := []struct {
		name, registry, path string
		wantStatus           int
		wantHandle           string
	}{
		{"ripe ip", "ripe", "ip/130.59.31.80", 200, "130.59.0.0 - 130.59.255.255"},
		{"arin nested base path", "arin", "ip/13.72.183.192", 200, "NET-13-64-0-0-1"},
		{"ip6 file name", "ripe", "ip/2a00:2381:ffff::1", 200, "2a00:2381:ffff::/64"},
		{"domain upper case", "markmonitor", "domain/GOOGLE.COM", 200, "2138514_DOMAIN_COM-VRSN"},
		{"entity", "arin", "entity/GOVI", 200, "GOVI"},
		{"autnum", "apnic", "autnum/9269", 200, "AS9269"},
		{"fixture kept in the repository", "norid", "domain/norway.no", 200, "NOR34044D-NORID"},
		{"unknown", "ripe", "ip/192.0.2.1", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := get(t, sim, sim.Server(tc.registry).Base()+tc.path)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", status, tc.wantStatus)
			}
			var obj struct{ Handle string }
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatal(err)
			}
			if obj.Handle != tc.wantHandle {
				t.Errorf("handle = %q, want %q", obj.Handle, tc.wantHandle)
			}
		})
	}
}

func TestFaultsAndCounting(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	srv := sim.Server("lacnic")
	srv.SetFault(Fault{Status: 429, RetryAfter: 2 * time.Second, Times: 2})
	url := srv.Base() + "ip/200.57.141.161"
	for i, want := range []int{429, 429, 200} {
		status, hdr, _ := get(t, sim, url)
		if status != want {
			t.Errorf("request %d: status = %d, want %d", i, status, want)
		}
		if want == 429 && hdr.Get("Retry-After") != "2" {
			t.Errorf("request %d: Retry-After = %q, want 2", i, hdr.Get("Retry-After"))
		}
	}
	srv.SetFault(Fault{Status: 503})
	for range 3 {
		if status, _, _ := get(t, sim, url); status != 503 {
			t.Errorf("outage: status = %d, want 503", status)
		}
	}
	if got := srv.Queries(); got != 6 {
		t.Errorf("Queries = %d, want 6", got)
	}
	if got := sim.Queries(); got != 6 {
		t.Errorf("sim Queries = %d, want 6", got)
	}
}

func TestPopulate(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	load, err := sim.Populate(12, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(load.Networks) != 12 || len(load.Domains) != 4 || load.FollowUps != 2 {
		t.Fatalf("load = %d networks, %d domains, %d follow-ups", len(load.Networks), len(load.Domains), load.FollowUps)
	}
	n := load.Networks[6] // 6 % 5 == 1: the second RIR, arin
	addr := n.Prefix.Addr().Next().Next()
	status, _, body := get(t, sim, sim.Server("arin").Base()+"ip/"+addr.String())
	if status != 200 || !bytes.Contains(body, []byte(n.AbuseEmail)) {
		t.Errorf("network %s: status %d, body lacks %s", n.Handle, status, n.AbuseEmail)
	}
	status, _, body = get(t, sim, sim.Server("verisign").Base()+"domain/"+strings.ToUpper(load.Domains[0].Name))
	if status != 200 || !bytes.Contains(body, []byte(`"related"`)) {
		t.Errorf("domain: status %d, no related link in %s", status, body)
	}
	if len(load.Parents) != 5 || len(load.Autnums) != 5 || n.ASN != load.Autnums[1].ASN {
		t.Errorf("parents %d, autnums %d, network ASN %d; want 5, 5, %d", len(load.Parents), len(load.Autnums), n.ASN, load.Autnums[1].ASN)
	}
	// A prefix query finds the most specific network holding all of it.
	tests := []struct{ registry, path, want string }{
		{"arin", "ip/" + n.Prefix.String(), `"handle":"` + n.Handle + `"`},
		{"arin", "ip/23.0.0.0/23", `"handle":"SIM-ARIN-UP-0"`},
		{"arin", "ip/" + addr.String(), `"parentHandle":"SIM-ARIN-UP-0"`},
		{"ripe", "ip/185.0.0.1", `"rel":"up","type":"application/rdap+json"`},
		{"ripe", "ip/185.0.0.1", `"href":"https://rdap.db.ripe.net/ip/185.0.0.0/16"`},
		{"ripe", "autnum/12288", load.Autnums[0].AbuseEmail},
	}
	for _, tc := range tests {
		status, _, body := get(t, sim, sim.Server(tc.registry).Base()+tc.path)
		if status != 200 || !bytes.Contains(body, []byte(tc.want)) {
			t.Errorf("%s %s: status %d, body lacks %s: %s", tc.registry, tc.path, status, tc.want, body)
		}
	}
	stub := Network{Prefix: netip.MustParsePrefix("2001:db8::/32"), Handle: "STUB", AbuseEmail: "abuse@stub.example", StubAbuse: true}
	if err := sim.Server("ripe").AddNetwork(stub); err != nil {
		t.Fatal(err)
	}
	_, _, body = get(t, sim, sim.Server("ripe").Base()+"ip/2001:db8::1")
	if bytes.Contains(body, []byte(stub.AbuseEmail)) {
		t.Errorf("stub network carries the e-mail")
	}
	if _, _, body = get(t, sim, sim.Server("ripe").Base()+"entity/STUB-ABUSE"); !bytes.Contains(body, []byte(stub.AbuseEmail)) {
		t.Errorf("stub entity lacks the e-mail: %s", body)
	}
}

func TestBootstrapPointsAtLoopback(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	body, err := sim.Bootstrap("ipv4")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte("rdap.arin.net")) {
		t.Errorf("bootstrap still names rdap.arin.net")
	}
	if !bytes.Contains(body, []byte(sim.Server("arin").Base())) {
		t.Errorf("bootstrap lacks the loopback arin base")
	}
}

func TestFindFixturesHonoursEnv(t *testing.T) {
	dir, err := FindFixtures()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(FixturesEnv, t.TempDir())
	if _, err := FindFixtures(); err == nil {
		t.Errorf("FindFixtures with an empty %s: want an error", FixturesEnv)
	}
	t.Setenv(FixturesEnv, dir)
	if got, err := FindFixtures(); err != nil || got != dir {
		t.Errorf("FindFixtures = %q, %v; want %q", got, err, dir)
	}
}

func TestOneListenerServesEveryRegistry(t *testing.T) {
	t.Parallel()
	var seen []string
	sim, err := New(Options{Addr: "127.0.0.1:0", Wrap: func(name string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, name+" "+r.URL.Path)
			h.ServeHTTP(w, r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	arin := sim.Server("arin")
	if want := "http://" + sim.Addr() + "/arin/registry/"; arin.Base() != want {
		t.Fatalf("arin base = %s, want %s", arin.Base(), want)
	}
	if got := sim.Overrides()["https://rdap.arin.net/registry/"]; got != arin.Base() {
		t.Errorf("override for arin = %s", got)
	}
	status, _, body := get(t, sim, arin.Base()+"ip/13.72.183.192")
	if status != 200 || !bytes.Contains(body, []byte("NET-13-64-0-0-1")) {
		t.Errorf("arin answer %d %.80s", status, body)
	}
	if status, _, _ := get(t, sim, sim.Server("ripe").Base()+"ip/13.72.183.192"); status != 404 {
		t.Errorf("ripe answered %d for arin's network, want 404", status)
	}
	if len(seen) != 2 || seen[0] != "arin /registry/ip/13.72.183.192" || seen[1] != "ripe /ip/13.72.183.192" {
		t.Errorf("wrapped handlers saw %q", seen)
	}
}
