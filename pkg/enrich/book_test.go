package enrich

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// stageHarness runs the enrich stage on an embedded NATS against a
// simulated world, and files cases as intake would.
type stageHarness struct {
	t     *testing.T
	store *store.Store
	seq   atomic.Uint64
}

func startStage(t *testing.T, e *Enricher) *stageHarness {
	t.Helper()
	return startStageWith(t, e, StageConfig{Workers: 4, AckWait: 5 * time.Second, MaxAttempts: 3, Backoff: []time.Duration{50 * time.Millisecond}})
}

func startStageWith(t *testing.T, e *Enricher, cfg StageConfig) *stageHarness {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	ns := natstest.Start(t)
	retry := broker.Retrier{CallTimeout: 5 * time.Second, Attempts: 5, Backoff: 50 * time.Millisecond}
	st, err := store.Open(t.Context(), ns.JS, store.Options{Retry: retry, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	stage, err := NewStage(t.Context(), cfg, st, e, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- stage.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("stage: %v", err)
		}
	})
	return &stageHarness{t: t, store: st}
}

// enrich files a case for raw and waits until the stage enriched it.
func (h *stageHarness) enrich(raw string) takedown.Case {
	h.t.Helper()
	return h.waitEnriched(h.file(raw))
}

// file files a case for raw as intake would and returns its id.
func (h *stageHarness) file(raw string) string {
	h.t.Helper()
	u, err := urlnorm.Parse(raw)
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now().UTC()
	id := store.CaseID(now, h.seq.Add(1))
	c := takedown.Case{ID: id, URL: u.String, OriginalURL: raw, Host: u.Host, Domain: u.Domain,
		State: takedown.StateReceived, ReceivedAt: now, UpdatedAt: now}
	if _, err := h.store.CreateCase(h.t.Context(), c); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Enqueue(h.t.Context(), store.StageEnrich, id, "enrich-"+id, nil); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// waitEnriched waits until the case left received, and wants it enriched.
func (h *stageHarness) waitEnriched(id string) takedown.Case {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, _, err := h.store.GetCase(h.t.Context(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if got.State != takedown.StateReceived {
			if got.State != takedown.StateEnriched {
				h.t.Fatalf("case %s (%s): state %s (%s), want enriched", id, got.URL, got.State, got.StateReason)
			}
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("case %s (%s) not enriched within a minute", id, got.URL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const testBook = `contacts:
  - name: Hoster desk
    networks: [185.60.1.0/24]
    emails: [desk@hoster.example, desk2@hoster.example]
    language: nl
    machine_readable: true
    note: agreed by phone
  - name: Hoster customer platform
    domains: [platform.nl]
    emails: [abuse@platform.nl]
    language: en
    channel: webhook
    webhook: https://abuse.platform.nl/report
  - name: Transit by AS
    asns: [64522]
    emails: [abuse@transit.example]
    exclusive: true
  - name: Cloudflare trusted reporter
    asns: [13335]
    emails: [trusted@cloudflare.example]
`

// The hotline's contact book wins over RDAP, through the enrich stage on
// the simulated internet: the most specific entry's addresses come first
// and say where they came from; RDAP's stay behind unless the entry is
// exclusive; a CDN's own entry takes the CDN list's place.
func TestContactBookWinsOverRDAP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.network(t, "ripe", rdapsim.Network{Prefix: mustPrefix("185.60.1.0/24"), Handle: "HOSTER-NET", AbuseEmail: "noc@hoster.example"}, "NL", 64520, "Hoster B.V.")
	w.network(t, "ripe", rdapsim.Network{Prefix: mustPrefix("185.60.2.0/24"), Handle: "OTHER-NET", AbuseEmail: "abuse@other.example"}, "NL", 64521, "Other B.V.")
	w.network(t, "ripe", rdapsim.Network{Prefix: mustPrefix("185.60.3.0/24"), Handle: "TRANSIT-CUST", AbuseEmail: "blackhole@transit-cust.example"}, "NL", 64522, "Transit")
	w.network(t, "arin", rdapsim.Network{Prefix: mustPrefix("104.16.0.0/24"), Handle: "NET-104-16-0-0-1", AbuseEmail: "abuse@cloudflare.com"}, "US", 13335, "CLOUDFLARENET")
	w.DNS.AddAddr("www.booked-hoster.nl", 300, mustAddr("185.60.1.10"))
	w.DNS.AddAddr("img.platform.nl", 300, mustAddr("185.60.1.20"))
	w.DNS.AddAddr("www.unbooked.nl", 300, mustAddr("185.60.2.10"))
	w.DNS.AddAddr("www.via-transit.nl", 300, mustAddr("185.60.3.10"))
	w.DNS.AddAddr("www.behind-cf.nl", 300, mustAddr("104.16.0.7"))
	book, err := contactbook.Parse([]byte(testBook), "contacts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startStage(t, w.enricher(t, func(o *Options) { o.Contacts = book }))
	policy := route.Policy{HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: route.AbroadNotice, CDNNotice: true}

	tests := []struct {
		name     string
		url      string
		contacts []string // role:email, the first ones in order
		route    string
		check    func(t *testing.T, c takedown.Case)
	}{
		{
			name: "network entry: the book's addresses first, RDAP's behind", url: "http://www.booked-hoster.nl/a.jpg",
			contacts: []string{"hoster:desk@hoster.example", "hoster:desk2@hoster.example", "hoster:noc@hoster.example"}, route: takedown.RouteHoster,
			check: func(t *testing.T, c takedown.Case) {
				b := c.Enrichment.Contacts[0]
				if b.Source.Kind != SourceContactBook || b.Source.Handle != "Hoster desk" || b.Language != "nl" || !b.MachineReadable || b.Channel != "email" ||
					!strings.HasPrefix(b.Source.Note, "contact book: Hoster desk, matched by network:185.60.1.0/24 (contacts.yaml line 2); agreed by phone") {
					t.Errorf("book contact = %+v", b)
				}
				if r := c.Enrichment.Contacts[2]; r.Source.Kind != SourceRDAPIP {
					t.Errorf("RDAP contact behind the book's = %+v", r)
				}
			},
		},
		{
			name: "domain entry beats the network entry of the same address", url: "https://img.platform.nl/b.jpg",
			contacts: []string{"hoster:abuse@platform.nl", "hoster:noc@hoster.example"}, route: takedown.RouteHoster,
			check: func(t *testing.T, c takedown.Case) {
				b := c.Enrichment.Contacts[0]
				if b.Channel != "webhook" || b.Webhook != "https://abuse.platform.nl/report" || b.Language != "en" || b.MachineReadable ||
					!strings.Contains(b.Source.Note, "matched by domain:platform.nl") {
					t.Errorf("book contact = %+v", b)
				}
				if slices.Contains(emails(c.Enrichment.Contacts), "hoster:desk@hoster.example") {
					t.Errorf("contacts %v: one entry applies, the most specific", emails(c.Enrichment.Contacts))
				}
			},
		},
		{
			name: "no entry: RDAP as before", url: "http://www.unbooked.nl/c.jpg",
			contacts: []string{"hoster:abuse@other.example"}, route: takedown.RouteHoster,
		},
		{
			name: "exclusive AS entry drops RDAP's hoster address", url: "http://www.via-transit.nl/d.jpg",
			contacts: []string{"hoster:abuse@transit.example"}, route: takedown.RouteHoster,
			check: func(t *testing.T, c takedown.Case) {
				if slices.Contains(emails(c.Enrichment.Contacts), "hoster:blackhole@transit-cust.example") {
					t.Errorf("contacts %v keep the RDAP address of an exclusive entry", emails(c.Enrichment.Contacts))
				}
			},
		},
		{
			name: "a CDN's entry takes the list's place", url: "http://www.behind-cf.nl/e.jpg",
			contacts: []string{"cdn:trusted@cloudflare.example", "cdn:abuse@cloudflare.com"}, route: takedown.RouteCDN,
			check: func(t *testing.T, c takedown.Case) {
				cdn := c.Enrichment.CDN
				if cdn == nil || cdn.Contact == nil || cdn.Contact.Email != "trusted@cloudflare.example" || cdn.Contact.Source.Kind != SourceContactBook {
					t.Errorf("cdn = %+v", cdn)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := h.enrich(tc.url)
			got := emails(c.Enrichment.Contacts)
			if len(got) < len(tc.contacts) || !slices.Equal(got[:len(tc.contacts)], tc.contacts) {
				t.Errorf("contacts = %v, want them to start %v", got, tc.contacts)
			}
			d := route.Decide(c, policy, nil)
			if d.Kind != tc.route || len(d.Contacts) == 0 || emails(d.Contacts)[0] != tc.contacts[0] {
				t.Errorf("route = %s to %v (%s), want %s to %s", d.Kind, emails(d.Contacts), d.Reason, tc.route, tc.contacts[0])
			}
			if tc.route == takedown.RouteHoster {
				if want := strings.TrimPrefix(tc.contacts[0], "hoster:"); !strings.Contains(c.StateReason, "hoster "+want) {
					t.Errorf("state reason %q does not name the book's hoster %s", c.StateReason, want)
				}
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}
