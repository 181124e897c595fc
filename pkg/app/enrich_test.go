package app

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// simInternet is the outside world enrichment asks, on loopback: a DNS
// resolver, the RDAP registries (fixtures plus networks added per test)
// and GeoIP databases.
type simInternet struct {
	DNS  *dnssim.Server
	RDAP *rdapsim.Sim
}

// simnetEnrich turns enrichment on in cfg against a simulated internet:
// nothing leaves loopback. geo is the GeoIP table; rdap networks and DNS
// records are added by the caller on the returned simulators.
func simnetEnrich(t testing.TB, cfg *config.Config, geo []geoipsim.Network) *simInternet {
	t.Helper()
	sim, err := rdapsim.New(rdapsim.Options{PlainHTTP: true})
	if err != nil {
		t.Fatalf("start rdap sim: %v", err)
	}
	t.Cleanup(sim.Close)
	countryDB, asnDB, err := geoipsim.WriteFiles(t.TempDir(), geo)
	if err != nil {
		t.Fatalf("write geoip databases: %v", err)
	}
	dnsSrv := dnssim.Start(t)
	e := &cfg.Enrich
	e.Enabled = true
	e.AckWait = 2 * time.Second
	e.Backoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	e.DNS.Servers = []string{dnsSrv.Addr()}
	e.DNS.Timeout = 500 * time.Millisecond
	e.RDAP.BootstrapURL = "" // the embedded bootstrap; never IANA
	e.RDAP.Overrides = sim.Overrides()
	e.RDAP.DefaultLimit = config.RDAPLimit{PerMinute: 60_000, Burst: 100}
	e.GeoIP = config.EnrichGeoIP{CountryPath: countryDB, ASNPath: asnDB, ReloadInterval: time.Hour}
	return &simInternet{DNS: dnsSrv, RDAP: sim}
}

// waitEnrichment polls the case of u until enrichment has decided on it,
// i.e. it left received (later stages may have moved it on since).
func (d *daemon) waitEnrichment(u string) api.CaseView {
	d.t.Helper()
	return d.waitState(u, takedown.StateReceived)
}

// enrichedOrLater is every state a case may be in once enrichment
// succeeded and later stages (route, notify) took it further.
var enrichedOrLater = []takedown.State{
	takedown.StateEnriched, takedown.StateRouted, takedown.StateNoticed,
	takedown.StateForwarded, takedown.StateReview,
}

func hasEvent(v api.CaseView, typ takedown.EventType) *takedown.Event {
	for i, ev := range v.Timeline {
		if ev.Type == typ {
			return &v.Timeline[i]
		}
	}
	return nil
}

func TestEnrichmentEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	net := netip.MustParsePrefix
	sn := simnetEnrich(t, &cfg, []geoipsim.Network{
		{Prefix: net("185.0.1.0/24"), Country: "NL", ASN: 64500, Org: "Hoster A B.V."},
		{Prefix: net("185.0.2.0/24"), Country: "DE", ASN: 64501, Org: "Moved GmbH"},
		{Prefix: net("104.16.0.0/13"), Country: "US", ASN: 13335, Org: "CLOUDFLARENET"},
		{Prefix: net("62.239.237.0/24"), Country: "GB", ASN: 2856, Org: "British Telecommunications PLC"},
	})
	ripe, arin := sn.RDAP.Server("ripe"), sn.RDAP.Server("arin")
	for _, n := range []struct {
		srv *rdapsim.Server
		n   rdapsim.Network
	}{
		{ripe, rdapsim.Network{Prefix: net("185.0.1.0/24"), Handle: "HOSTER-A-NET", Country: "NL", AbuseEmail: "abuse@hoster-a.nl"}},
		{ripe, rdapsim.Network{Prefix: net("185.0.2.0/24"), Handle: "MOVED-NET", Country: "NL", AbuseEmail: "abuse@moved.example"}},
		// Named by its handle only, so "cdn asn" is recognised by the ASN
		// (the name CLOUDFLARENET would give it away first).
		{arin, rdapsim.Network{Prefix: net("104.16.0.0/24"), Handle: "NET-104-16-0-0-1", Country: "US", AbuseEmail: "abuse@cloudflare.com"}},
	} {
		if err := n.srv.AddNetwork(n.n); err != nil {
			t.Fatal(err)
		}
	}
	if err := sn.RDAP.Server("verisign").AddDomain(rdapsim.Domain{
		Name: "hoster-a-site.com", Registrar: "Example Registrar", IANAID: "9999",
		AbuseEmail: "abuse@registrar.example", RegistrarServer: sn.RDAP.Server("markmonitor"),
	}); err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr
	sn.DNS.AddAddr("www.hoster-a-site.com", 300, addr("185.0.1.10"))
	sn.DNS.AddAddr("www.moved-site.com", 300, addr("185.0.2.20"))
	sn.DNS.AddCNAME("img.cdn-shop.com", "img.cdn-shop.com.cdn.cloudflare.net", 300)
	sn.DNS.AddAddr("img.cdn-shop.com.cdn.cloudflare.net", 300, addr("104.16.0.5"))
	sn.DNS.AddAddr("asn-only.com", 300, addr("104.16.0.6"))
	sn.DNS.AddAddr("intranet-mirror.com", 300, addr("10.1.2.3"), addr("100.64.7.7"))
	d := startDaemon(t, cfg)

	urls := map[string]string{
		"hoster":     "http://www.hoster-a-site.com/a.jpg",
		"disagree":   "http://www.moved-site.com/b.jpg",
		"cdn cname":  "https://img.cdn-shop.com/c.jpg",
		"cdn asn":    "http://asn-only.com/d.jpg",
		"ip literal": "http://62.239.237.1/e.jpg",
		"onion":      "http://expyuzz4wqqyqhjn.onion/f.jpg",
		"nxdomain":   "http://gone-already.com/g.jpg",
		"cgnat":      "http://100.64.0.1/h.jpg",
		"private":    "http://intranet-mirror.com/i.jpg",
	}
	for name, u := range urls {
		d.publish(report("e2e-"+strings.ReplaceAll(name, " ", "-"), u), "")
	}
	d.settle()

	t.Run("hoster, network, registrar and country", func(t *testing.T) {
		v := d.waitEnrichment(urls["hoster"])
		wantEnriched(t, v)
		e := v.Case.Enrichment
		if len(e.Addresses) != 1 || e.Addresses[0] != (takedown.AddressInfo{IP: "185.0.1.10", Country: "NL", ASN: 64500, ASName: "Hoster A B.V.", Network: "HOSTER-A-NET"}) {
			t.Errorf("addresses = %+v", e.Addresses)
		}
		if len(e.Networks) != 1 || e.Networks[0].Handle != "HOSTER-A-NET" || e.Networks[0].Country != "NL" ||
			e.Networks[0].Start != "185.0.1.0" || e.Networks[0].End != "185.0.1.255" || e.Networks[0].Source.Server != "rdap.db.ripe.net" {
			t.Errorf("networks = %+v", e.Networks)
		}
		if len(e.Contacts) == 0 {
			t.Fatal("no contacts")
		}
		h := e.Contacts[0]
		if h.Email != "abuse@hoster-a.nl" || h.Role != "hoster" || h.Source.Kind != "rdap_ip" ||
			h.Source.Server != "rdap.db.ripe.net" || h.Source.Handle != "HOSTER-A-NET" || len(h.Source.Path) == 0 {
			t.Errorf("first contact = %+v, want the hoster's abuse address with its source", h)
		}
		// The registrar only serves escalation: it follows the
		// enrichment, in the escalation stage, with an event of its own.
		v = d.waitChain(urls["hoster"])
		e = v.Case.Enrichment
		if ev := hasEvent(v, takedown.EventEscalationChain); ev == nil || ev.Actor != "enrich" || !strings.Contains(ev.Reason, "registrar Example Registrar") {
			t.Errorf("escalation_chain event = %+v", ev)
		}
		r := e.Registrar
		if r == nil || r.Name != "Example Registrar" || r.Abuse == nil || r.Abuse.Email != "abuse@registrar.example" || r.Abuse.Role != "registrar" {
			t.Fatalf("registrar = %+v", r)
		}
		if !slices.ContainsFunc(e.Contacts, func(c takedown.Contact) bool { return c.Role == "registrar" && c.Email == "abuse@registrar.example" }) {
			t.Errorf("registrar abuse contact missing from contacts %+v", e.Contacts)
		}
		if e.Country.Country != "NL" || e.Country.Disagree || e.Country.Rule != "geoip_first" {
			t.Errorf("country = %+v", e.Country)
		}
		ev := hasEvent(v, takedown.EventEnriched)
		if ev == nil || ev.Actor != "enrich" || !strings.Contains(ev.Reason, "country NL") || !strings.Contains(ev.Reason, "abuse@hoster-a.nl") {
			t.Errorf("enriched event = %+v", ev)
		}
	})
	t.Run("geoip and rdap disagree", func(t *testing.T) {
		v := d.waitEnrichment(urls["disagree"])
		wantEnriched(t, v)
		c := v.Case.Enrichment.Country
		if c.GeoIP != "DE" || c.RDAP != "NL" || !c.Disagree || c.Country != "DE" || !strings.Contains(c.Note, "geoip says DE, rdap says NL") {
			t.Errorf("country decision = %+v", c)
		}
		if ev := hasEvent(v, takedown.EventEnriched); ev == nil || !strings.Contains(ev.Reason, "disagree") {
			t.Errorf("enriched event = %+v, want the disagreement in its reason", ev)
		}
	})
	for _, tc := range []struct{ name, matchedBy string }{
		{"cdn cname", "cname:img.cdn-shop.com.cdn.cloudflare.net"},
		{"cdn asn", "asn:13335"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := d.waitEnrichment(urls[tc.name])
			wantEnriched(t, v)
			e := v.Case.Enrichment
			if e.CDN == nil || e.CDN.Name != "Cloudflare" || e.CDN.MatchedBy != tc.matchedBy || !e.CDN.OriginUnknown {
				t.Fatalf("cdn = %+v", e.CDN)
			}
			if e.CDN.Contact == nil || e.CDN.Contact.Email != "abuse@cloudflare.com" || e.Contacts[0].Role != "cdn" || e.Contacts[0].Source.Kind != "cdn_list" {
				t.Errorf("cdn contact %+v, contacts %+v", e.CDN.Contact, e.Contacts)
			}
			if slices.ContainsFunc(e.Contacts, func(c takedown.Contact) bool { return c.Role == "hoster" }) {
				t.Errorf("contacts %+v name a hoster behind a CDN", e.Contacts)
			}
		})
	}
	t.Run("ip literal without dns", func(t *testing.T) {
		v := d.waitEnrichment(urls["ip literal"])
		wantEnriched(t, v)
		e := v.Case.Enrichment
		if !e.IPLiteral || len(e.CNAMEs) != 0 || e.Registrar != nil {
			t.Errorf("ip literal %v, cnames %v, registrar %+v", e.IPLiteral, e.CNAMEs, e.Registrar)
		}
		if len(e.Contacts) == 0 || e.Contacts[0].Email != "zzdnsr@bt.com" || e.Contacts[0].Source.Server != "rdap.db.ripe.net" {
			t.Errorf("contacts = %+v, want BT's abuse address from the RIPE fixture", e.Contacts)
		}
		if e.Country.Country != "GB" {
			t.Errorf("country = %+v", e.Country)
		}
	})
	t.Run("onion is not actionable", func(t *testing.T) {
		v := d.waitEnrichment(urls["onion"])
		if v.Case.State != takedown.StateNotActionable || !strings.Contains(strings.ToLower(v.Case.StateReason), "onion") {
			t.Errorf("state %s (%q), want not_actionable naming onion", v.Case.State, v.Case.StateReason)
		}
		if ev := hasEvent(v, takedown.EventNotActionable); ev == nil || ev.To != takedown.StateNotActionable {
			t.Errorf("not_actionable event = %+v", ev)
		}
	})
	t.Run("cgnat address is not actionable at intake", func(t *testing.T) {
		v := d.waitEnrichment(urls["cgnat"])
		if v.Case.State != takedown.StateNotActionable || !strings.Contains(v.Case.StateReason, "100.64.0.1 is shared-cgnat space") {
			t.Errorf("state %s (%q), want not_actionable naming the cgnat range", v.Case.State, v.Case.StateReason)
		}
		if ev := hasEvent(v, takedown.EventNotActionable); ev == nil || ev.Actor != "intake" || ev.From != takedown.StateReceived {
			t.Errorf("not_actionable event = %+v, want one by intake", ev)
		}
		if v.Case.Enrichment != nil || hasEvent(v, takedown.EventEnriched) != nil {
			t.Errorf("a case not actionable at intake was enriched: %+v", v.Case.Enrichment)
		}
	})
	t.Run("host of only private addresses is not actionable", func(t *testing.T) {
		v := d.waitEnrichment(urls["private"])
		if v.Case.State != takedown.StateNotActionable ||
			!strings.Contains(v.Case.StateReason, "10.1.2.3 (private)") || !strings.Contains(v.Case.StateReason, "100.64.7.7 (shared-cgnat)") {
			t.Errorf("state %s (%q), want not_actionable naming both addresses", v.Case.State, v.Case.StateReason)
		}
		if ev := hasEvent(v, takedown.EventNotActionable); ev == nil || ev.Actor != "enrich" {
			t.Errorf("not_actionable event = %+v, want one by enrich", ev)
		}
		if e := v.Case.Enrichment; e == nil || len(e.Addresses) != 2 {
			t.Errorf("enrichment = %+v, want the two addresses recorded", e)
		}
	})
	t.Run("nxdomain is unresolvable", func(t *testing.T) {
		v := d.waitEnrichment(urls["nxdomain"])
		if v.Case.State != takedown.StateUnresolvable {
			t.Fatalf("state %s, want unresolvable", v.Case.State)
		}
		if ev := hasEvent(v, takedown.EventUnresolvable); ev == nil || ev.From != takedown.StateReceived {
			t.Errorf("unresolvable event = %+v", ev)
		}
		if e := v.Case.Enrichment; e == nil || len(e.Problems) == 0 || !strings.Contains(e.Problems[0], "no such domain") {
			t.Errorf("enrichment = %+v, want the dns problem recorded", e)
		}
	})
}

func wantEnriched(t *testing.T, v api.CaseView) {
	t.Helper()
	if !slices.Contains(enrichedOrLater, v.Case.State) || v.Case.Enrichment == nil {
		t.Fatalf("state %s (%q), enrichment %v; want enriched", v.Case.State, v.Case.StateReason, v.Case.Enrichment != nil)
	}
}

func TestEnrichmentRetries(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	sn := simnetEnrich(t, &cfg, nil)
	cfg.Enrich.MaxAttempts = 3
	cfg.Enrich.UnresolvableRetry = slices.Repeat([]time.Duration{100 * time.Millisecond}, 50)
	cfg.Enrich.DNS.CacheSize = -1 // the test changes answers; no cache hides them
	sn.DNS.SetMode("broken-dns.com", dnssim.ModeServFail)
	sn.RDAP.Server("apnic").SetFault(rdapsim.Fault{Status: 429, Times: 1})
	d := startDaemon(t, cfg)

	urls := map[string]string{
		"comes back":      "http://comes-back.com/a.jpg",
		"servfail":        "http://broken-dns.com/b.jpg",
		"rdap rate limit": "http://210.107.73.73/c.jpg",
	}
	for name, u := range urls {
		d.publish(report("retry-"+strings.ReplaceAll(name, " ", "-"), u), "")
	}
	d.settle()

	t.Run("unresolvable host that comes back is enriched", func(t *testing.T) {
		if v := d.waitEnrichment(urls["comes back"]); v.Case.State != takedown.StateUnresolvable {
			t.Fatalf("state %s, want unresolvable first", v.Case.State)
		}
		sn.DNS.AddAddr("comes-back.com", 300, netip.MustParseAddr("62.239.237.1"))
		v := d.waitState(urls["comes back"], takedown.StateUnresolvable)
		wantEnriched(t, v)
		if ev := hasEvent(v, takedown.EventEnriched); ev == nil || ev.From != takedown.StateUnresolvable {
			t.Errorf("enriched event = %+v, want a move from unresolvable", ev)
		}
	})
	t.Run("dns failing on every attempt goes to review", func(t *testing.T) {
		v := d.waitEnrichment(urls["servfail"])
		if v.Case.State != takedown.StateReview || !strings.Contains(v.Case.StateReason, "dns failed 3 times") {
			t.Errorf("state %s (%q), want review after 3 attempts", v.Case.State, v.Case.StateReason)
		}
		if ev := hasEvent(v, takedown.EventReview); ev == nil || ev.Actor != "enrich" {
			t.Errorf("review event = %+v", ev)
		}
	})
	t.Run("rdap rate limit is retried", func(t *testing.T) {
		v := d.waitEnrichment(urls["rdap rate limit"])
		wantEnriched(t, v)
		if e := v.Case.Enrichment; len(e.Contacts) == 0 || len(e.Problems) != 0 {
			t.Errorf("contacts %+v, problems %v; want the retry's full answer", e.Contacts, e.Problems)
		}
		n := 0
		for _, ev := range v.Timeline {
			if ev.Type == takedown.EventEnriched {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d enriched events, want 1", n)
		}
		if q := sn.RDAP.Server("apnic").Queries(); q < 2 {
			t.Errorf("apnic asked %d times, want the 429 and a retry", q)
		}
	})
}

// waitState polls the case of u until it leaves state from.
// waitChain waits until the case of u has the levels above its hoster
// (the escalation stage's work) and returns it.
func (d *daemon) waitChain(u string) api.CaseView {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := d.caseByURL(u)
		if e := v.Case.Enrichment; e != nil && !e.EscalationPending {
			return v
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("case %s: no escalation chain after 30s", v.Case.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) waitState(u string, from takedown.State) api.CaseView {
	d.t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		v := d.caseByURL(u)
		if v.Case.State != from {
			return v
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("case %s still %s after %s", v.Case.ID, from, waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
