package api

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// A seeded data set for the statistics: cases as the pipeline leaves
// them, in every shape the figures have a rule for, each with the truth
// it was made from. The tests compute the expected figures from the
// truths (a naive pass) and compare them with the API's answer; the
// benchmark stores a million of them.

// truth is what a seeded case was made to be.
type truth struct {
	id        string
	state     takedown.State
	route     string // "" unrouted
	partner   string
	country   string // "" unknown
	hoster    string // the hoster key it must be counted under
	asns      []uint32
	noticedTo []string // domains notices reached
	// hosterNoticed: a notice went to the hoster's (or CDN's) own address;
	// partnerCountry: the case was forwarded to that country's partner.
	hosterNoticed  bool
	partnerCountry string
	failingTo      []string // addresses that failed
	url            string
	confirmed      time.Time
	firstNotice    time.Time // zero: never noticed
	removed        time.Time // first removal; zero: none
	reminders      int
	escalations    int
	failed         int
	reopened       int
	anonymised     bool
}

// seedHoster is one hosting company of the data set.
type seedHoster struct {
	key      string
	contact  string // the abuse address enrichment finds ("" none)
	asns     []uint32
	networks []string
	country  string
	cdn      bool
}

var seedHosters = []seedHoster{
	{key: "nl-hoster.nl", contact: "abuse@nl-hoster.nl", asns: []uint32{64501}, networks: []string{"NLH-1", "NLH-2"}, country: "NL"},
	{key: "bigcloud.com", contact: "abuse@noc.bigcloud.com", asns: []uint32{64502, 64503}, networks: []string{"BIG-DE"}, country: "DE"},
	{key: "small.co.uk", contact: "abuse@mail.small.co.uk", asns: []uint32{64504}, networks: []string{"SMALL-UK"}, country: "GB"},
	{key: "simcdn.net", contact: "abuse@simcdn.net", asns: []uint32{64505}, networks: []string{"SIMCDN"}, country: "US", cdn: true},
	{key: "AS64509", asns: []uint32{64509}, networks: []string{"ANON-NET"}, country: "NL"},
	{key: "unknown"},
}

// seedCases makes n cases confirmed over the two years before now (some
// within the last days), with rng deciding each one's story; their ids
// use stream sequences from firstSeq on.
func seedCases(rng *rand.Rand, n int, now time.Time, h *stats.URLHasher, firstSeq ...uint64) ([]takedown.Case, []truth) {
	cases := make([]takedown.Case, 0, n)
	truths := make([]truth, 0, n)
	base := now.Add(-2 * 365 * 24 * time.Hour)
	var seq uint64
	if len(firstSeq) > 0 {
		seq = firstSeq[0] - 1
	}
	for i := range n {
		seq++
		confirmed := base.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
		if i%10 == 0 {
			// Recent: some outcomes are not known yet for the longer windows.
			confirmed = now.Add(-time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))))
		}
		received := confirmed.Add(time.Duration(rng.Int64N(int64(10 * time.Minute))))
		c, tr := seedCase(rng, store.CaseID(received, seq), confirmed, received, now, h, i)
		cases = append(cases, c)
		truths = append(truths, tr)
	}
	return cases, truths
}

func seedCase(rng *rand.Rand, id string, confirmed, received, now time.Time, h *stats.URLHasher, i int) (takedown.Case, truth) {
	hs := seedHosters[rng.IntN(len(seedHosters))]
	u := fmt.Sprintf("http://site%d.example/img/%d.jpg", rng.IntN(max(i/8, 10)), rng.IntN(20))
	c := takedown.Case{ID: id, URL: u, OriginalURL: u, Host: u[7 : strings.Index(u[7:], "/")+7], ReceivedAt: received, UpdatedAt: received,
		Priority: takedown.PriorityNormal, Classification: takedown.Classification("A1")}
	tr := truth{id: id, url: u, hoster: hs.key, confirmed: confirmed}
	// Reports: usually one; sometimes a later report with an earlier
	// confirmation (the earliest counts); sometimes none at all (the
	// received time counts).
	switch k := rng.IntN(10); {
	case k == 0:
		tr.confirmed = received
	case k == 1:
		c.AddReport(takedown.ReportRef{ReportID: id + "-b", ReceivedAt: received, ConfirmedAt: confirmed.Add(time.Hour), Classification: "A1", Analyst: "analyst-7"})
		c.AddReport(takedown.ReportRef{ReportID: id + "-a", ReceivedAt: received, ConfirmedAt: confirmed, Classification: "A1"})
	default:
		c.AddReport(takedown.ReportRef{ReportID: id, ReceivedAt: received, ConfirmedAt: confirmed, Classification: "A1", Analyst: "analyst-3"})
	}
	if hs.key != "unknown" {
		e := &takedown.Enrichment{At: received, Host: c.Host, Country: takedown.CountryDecision{Rule: "agree", Country: hs.country, GeoIP: hs.country, RDAP: hs.country}}
		for j, asn := range hs.asns {
			if j > 0 && rng.IntN(2) == 0 {
				continue
			}
			e.Addresses = append(e.Addresses, takedown.AddressInfo{IP: fmt.Sprintf("192.0.2.%d", 1+j), Country: hs.country, ASN: uint(asn), ASName: "AS-" + hs.key, Network: hs.networks[min(j, len(hs.networks)-1)]})
			tr.asns = append(tr.asns, asn)
		}
		for _, n := range hs.networks {
			e.Networks = append(e.Networks, takedown.Network{Handle: n, Name: n + "-NAME", Country: hs.country, CIDRs: []string{"192.0.2.0/24"}, Source: takedown.Source{Kind: "rdap_ip", Server: "rdap.example"}})
		}
		role := "hoster"
		if hs.cdn {
			role = "cdn"
			e.CDN = &takedown.CDN{Name: "SimCDN", MatchedBy: "cname:" + c.Host + ".simcdn.net", Contact: &takedown.Contact{Email: hs.contact, Role: "cdn"}, OriginUnknown: true}
		}
		if hs.contact != "" {
			e.Contacts = append(e.Contacts, takedown.Contact{Email: hs.contact, Role: role, Source: takedown.Source{Kind: "rdap_ip", Handle: hs.networks[0]}})
		}
		e.Contacts = append(e.Contacts, takedown.Contact{Email: "abuse@upstream-transit.net", Role: "upstream", Source: takedown.Source{Kind: "rdap_autnum"}})
		e.Registrar = &takedown.Registrar{Name: "Sim Registrar", Abuse: &takedown.Contact{Email: "abuse@registrar.example", Role: "registrar"}}
		c.Enrichment = e
		tr.country = hs.country
	}
	story := rng.IntN(12)
	if c.Enrichment == nil || hs.contact == "" && story < 9 {
		// Nobody to tell: the case waits, is not actionable, or closed.
		states := []takedown.State{takedown.StateReceived, takedown.StateUnresolvable, takedown.StateNotActionable, takedown.StateReview, takedown.StateClosed}
		tr.state = states[rng.IntN(len(states))]
		if tr.state == takedown.StateReview {
			tr.route = takedown.RouteReview
			c.Routing = &takedown.Routing{At: received, Kind: takedown.RouteReview, Reason: "no working abuse contact"}
		}
		c.State = tr.state
		finish(&c, &tr, now, h, rng)
		return c, tr
	}
	// Routed: to the hoster (or CDN), or forwarded to a partner abroad.
	r := &takedown.Routing{At: received, Kind: takedown.RouteHoster, Country: hs.country, Channel: "email", Reason: "hosted in " + hs.country}
	contact := hs.contact
	if hs.contact == "" {
		contact = "abuse@upstream-transit.net"
	}
	kind := takedown.NoticeKindFirst
	switch {
	case hs.cdn:
		r.Kind = takedown.RouteCDN
	case hs.country != "NL" && rng.IntN(2) == 0:
		r.Kind, r.Partner, r.Channel = takedown.RoutePartner, map[string]string{"DE": "eco", "GB": "iwf"}[hs.country], "email"
		contact, kind = "reports@"+r.Partner+".partner.example", takedown.NoticeKindForward
		tr.partner = r.Partner
	}
	level := "hoster"
	if kind == takedown.NoticeKindForward {
		level = takedown.NoticeLevelPartner
	}
	r.Contacts = []takedown.Contact{{Email: contact, Role: "hoster"}}
	c.Routing, tr.route = r, r.Kind
	notice := confirmed.Add(time.Duration(5+rng.IntN(120)) * time.Minute)
	if story == 0 {
		// Not sent yet: routed, in the batching window.
		c.State, tr.state = takedown.StateRouted, takedown.StateRouted
		c.Notices = append(c.Notices, takedown.NoticeRef{Ref: "TD-" + id + "-1", Kind: kind, Level: level, Channel: "email", To: contact, At: notice, Outcome: "sending"})
		// Addressed, if not sent yet: the party it is addressed to sees it.
		tr.noticedTo = append(tr.noticedTo, stats.MailDomain(contact))
		if kind == takedown.NoticeKindForward {
			tr.partnerCountry = hs.country
		} else if contact == hs.contact {
			tr.hosterNoticed = true
		}
		finish(&c, &tr, now, h, rng)
		return c, tr
	}
	if story == 1 {
		// The first contact bounced; the next one got it later.
		c.Notices = append(c.Notices, takedown.NoticeRef{Ref: "TD-" + id + "-0", Kind: kind, Level: level, Channel: "email", To: "abuse@old-" + hs.key, At: notice, Outcome: "failed"})
		if kind != takedown.NoticeKindForward {
			tr.noticedTo = append(tr.noticedTo, "old-"+hs.key)
		}
		r.Failing = append(r.Failing, "Abuse@old-"+hs.key)
		tr.failingTo, tr.failed = append(tr.failingTo, "abuse@old-"+hs.key), 1
		notice = notice.Add(3 * time.Hour)
	}
	if notice.After(now) {
		notice = now.Add(-time.Second)
	}
	c.Notices = append(c.Notices, takedown.NoticeRef{Ref: "TD-" + id + "-1", Kind: kind, Level: level, Channel: "email", To: contact, At: notice, Outcome: "sent", MessageID: "<TD-" + id + "@hotline.example>"})
	tr.firstNotice = notice
	if kind == takedown.NoticeKindForward {
		tr.partnerCountry = hs.country
	} else if contact == hs.contact {
		tr.hosterNoticed = true
	}
	if kind != takedown.NoticeKindForward {
		tr.noticedTo = append(tr.noticedTo, stats.MailDomain(contact))
	}
	cs := &takedown.CheckState{WatchedSince: notice, Checks: 1 + rng.IntN(20)}
	c.Checks = cs
	c.State, tr.state = takedown.StateNoticed, takedown.StateNoticed
	if r.Kind == takedown.RoutePartner {
		c.State, tr.state = takedown.StateForwarded, takedown.StateForwarded
	}
	// Reminders and escalations while online (one reminder bounced).
	for k := range rng.IntN(4) {
		at := notice.Add(time.Duration(k+1) * 24 * time.Hour)
		outcome := "sent"
		if k == 2 {
			outcome = "failed"
			tr.failed++
		} else {
			tr.reminders++
		}
		c.Notices = append(c.Notices, takedown.NoticeRef{Ref: fmt.Sprintf("TD-%s-r%d", id, k), Kind: "reminder", Level: level, Channel: "email", To: contact, At: at, Outcome: outcome})
	}
	if rng.IntN(5) == 0 {
		c.Notices = append(c.Notices, takedown.NoticeRef{Ref: "TD-" + id + "-e", Kind: "escalation", Level: "upstream", Channel: "email", To: "abuse@upstream-transit.net", At: notice.Add(72 * time.Hour), Outcome: "sent"})
		tr.escalations++
		tr.noticedTo = append(tr.noticedTo, "upstream-transit.net")
		cs.EscalationLvl = 1
	}
	if story >= 3 && story <= 10 {
		// Removed: by minutes, hours or weeks after the notice.
		scale := []time.Duration{time.Minute, time.Hour, 24 * time.Hour}[rng.IntN(3)]
		removed := notice.Add(time.Duration(1+rng.IntN(48)) * scale)
		if removed.After(now) {
			removed = now.Add(-time.Minute)
		}
		tr.removed = removed
		switch {
		case story == 3:
			cs.RemovedAt = removed // recorded before first_removed_at existed
		case story == 4:
			// Came back (once or twice) and was removed again: the first
			// removal counts.
			tr.reopened = 1 + rng.IntN(2)
			cs.FirstRemovedAt, cs.RemovedAt, cs.Reopened = removed, removed.Add(30*time.Hour), tr.reopened
		default:
			cs.FirstRemovedAt, cs.RemovedAt = removed, removed
		}
		c.State, tr.state = takedown.StateRemoved, takedown.StateRemoved
		if story%2 == 0 {
			c.State, tr.state = takedown.StateClosed, takedown.StateClosed
		}
	} else if story == 11 {
		// Closed by a person without a removal.
		c.State, tr.state = takedown.StateClosed, takedown.StateClosed
	}
	finish(&c, &tr, now, h, rng)
	return c, tr
}

// finish sets the last change and anonymises some of the closed cases as
// retention leaves them.
func finish(c *takedown.Case, tr *truth, now time.Time, h *stats.URLHasher, rng *rand.Rand) {
	c.UpdatedAt = c.ReceivedAt.Add(time.Hour)
	if c.State != takedown.StateClosed || rng.IntN(3) != 0 {
		return
	}
	a := &takedown.Anonymised{At: now, URLHash: h.Sum(c.URL), Hoster: tr.hoster, Audiences: c.Audiences(), TimelineRedacted: true}
	if c.Routing != nil {
		for _, addr := range c.Routing.Failing {
			a.FailingContacts = append(a.FailingContacts, h.Sum(strings.ToLower(addr)))
		}
		c.Routing.Contacts, c.Routing.Failing = nil, nil
	}
	c.URL, c.OriginalURL, c.Host = "", "", ""
	if e := c.Enrichment; e != nil {
		e.Contacts, e.CDN, e.Registrar, e.Host = nil, nil, nil, ""
		for i := range e.Addresses {
			e.Addresses[i].IP = ""
		}
	}
	for i := range c.Notices {
		c.Notices[i].To = ""
	}
	c.Anonymised, tr.anonymised = a, true
}
