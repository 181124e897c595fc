package route

import (
	"os"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/takedown"
)

func enriched(country string, contacts ...string) takedown.Case {
	e := &takedown.Enrichment{Country: takedown.CountryDecision{Country: country}}
	for _, c := range contacts {
		e.Contacts = append(e.Contacts, takedown.Contact{Email: c, Role: "hoster"})
	}
	e.Contacts = append(e.Contacts, takedown.Contact{Email: "abuse@registrar.example", Role: "registrar"})
	return takedown.Case{ID: "C1", Enrichment: e}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	policy := Policy{
		HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: AbroadNotice, CDNNotice: true,
		Partners: map[string]Partner{
			"DE": {Country: "DE", Name: "eco", Channel: "webhook", Address: "https://eco.example/hook"},
			"FR": {Country: "FR", Name: "Point de Contact", Channel: "email", Address: ""}, // not configured
		},
	}
	cdnCase := enriched("US", "abuse@origin.example")
	cdnCase.Enrichment.CDN = &takedown.CDN{Name: "Cloudflare", MatchedBy: "asn:13335", Contact: &takedown.Contact{Email: "abuse@cloudflare.com", Role: "cdn"}}
	bookCDN := enriched("US", "abuse@origin.example")
	bookCDN.Enrichment.CDN = cdnCase.Enrichment.CDN
	bookCDN.Enrichment.Contacts = append([]takedown.Contact{{Email: "abuse@site-operator.nl", Role: "hoster", Language: "nl",
		Source: takedown.Source{Kind: takedown.SourceContactBook, Handle: "Site operator"}}}, bookCDN.Enrichment.Contacts...)
	bookEN := enriched("NL", "abuse@hoster.nl")
	bookEN.Enrichment.Contacts[0].Language = "en"
	disagree := enriched("")
	disagree.Enrichment.Country = takedown.CountryDecision{GeoIP: "NL", RDAP: "DE", Disagree: true}
	tests := []struct {
		name       string
		c          takedown.Case
		policy     func(p *Policy)
		failing    []string
		kind, lang string
		to         string
		reasonSub  string
	}{
		{name: "domestic hoster", c: enriched("NL", "abuse@hoster.nl"), kind: takedown.RouteHoster, lang: "nl", to: "abuse@hoster.nl", reasonSub: "own country"},
		{name: "failing contact skipped", c: enriched("NL", "abuse@hoster.nl", "noc@hoster.nl"), failing: []string{"abuse@hoster.nl"}, kind: takedown.RouteHoster, to: "noc@hoster.nl"},
		{name: "all contacts failing", c: enriched("NL", "abuse@hoster.nl"), failing: []string{"abuse@hoster.nl"}, kind: takedown.RouteReview, reasonSub: "no working abuse contact"},
		{name: "domestic without contact", c: enriched("NL"), kind: takedown.RouteReview, reasonSub: "no working abuse contact"},
		{name: "abroad with partner", c: enriched("DE", "abuse@hoster.de"), kind: takedown.RoutePartner, lang: "en", reasonSub: "eco by webhook"},
		{name: "partner without address: direct notice in English", c: enriched("FR", "abuse@hoster.fr"), kind: takedown.RouteHoster, lang: "en", to: "abuse@hoster.fr"},
		{name: "abroad without partner, review policy", c: enriched("US", "abuse@hoster.us"), policy: func(p *Policy) { p.AbroadWithoutPartner = AbroadReview }, kind: takedown.RouteReview, reasonSub: "no partner hotline"},
		{name: "cdn noticed", c: cdnCase, kind: takedown.RouteCDN, lang: "en", to: "abuse@cloudflare.com", reasonSub: "Cloudflare"},
		{name: "contact book names the operator behind a cdn", c: bookCDN, kind: takedown.RouteHoster, lang: "nl", to: "abuse@site-operator.nl", reasonSub: "contact book names the site's operator"},
		{name: "failing book contact behind a cdn: the cdn is asked", c: bookCDN, failing: []string{"abuse@site-operator.nl"}, kind: takedown.RouteCDN, to: "abuse@cloudflare.com"},
		{name: "contact's own language wins at home", c: bookEN, kind: takedown.RouteHoster, lang: "en", to: "abuse@hoster.nl"},
		{name: "cdn notices off", c: cdnCase, policy: func(p *Policy) { p.CDNNotice = false }, kind: takedown.RouteReview, reasonSub: "switched off"},
		{name: "country unknown", c: enriched(""), kind: takedown.RouteReview, reasonSub: "country unknown"},
		{name: "country disagreement", c: disagree, kind: takedown.RouteReview, reasonSub: `GeoIP says "NL", RDAP says "DE"`},
		{name: "not enriched", c: takedown.Case{ID: "C2"}, kind: takedown.RouteReview, reasonSub: "no enrichment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := policy
			if tc.policy != nil {
				tc.policy(&p)
			}
			d := Decide(tc.c, p, tc.failing)
			if d.Kind != tc.kind {
				t.Fatalf("kind = %s (%s), want %s", d.Kind, d.Reason, tc.kind)
			}
			if tc.lang != "" && d.Lang != tc.lang {
				t.Errorf("lang = %q, want %q", d.Lang, tc.lang)
			}
			if tc.to != "" && (len(d.Contacts) == 0 || d.Contacts[0].Email != tc.to) {
				t.Errorf("contacts = %+v, want first %s", d.Contacts, tc.to)
			}
			for _, c := range d.Contacts {
				if c.Role == "registrar" {
					t.Errorf("registrar contact %s in a first notice", c.Email)
				}
			}
			if !strings.Contains(d.Reason, tc.reasonSub) {
				t.Errorf("reason %q does not contain %q", d.Reason, tc.reasonSub)
			}
		})
	}
}

func TestShippedPartnerDirectory(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile("../../config/partners.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(shipped) != string(defaultPartners) {
		t.Error("config/partners.yaml and the embedded pkg/route/partners.yaml differ")
	}
	ps, err := LoadPartners("")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 40 {
		t.Errorf("%d partner countries, want the INHOPE members (40+)", len(ps))
	}
	if ps["DE"].Name != "eco Beschwerdestelle" {
		t.Errorf("DE partner = %q, want the first listed", ps["DE"].Name)
	}
}

func TestParsePartnersErrors(t *testing.T) {
	t.Parallel()
	_, err := ParsePartners([]byte("partners:\n  - {country: DEU, name: x, channel: email}\n  - {country: FR, name: y, channel: fax}\n  - {country: BE, name: z, channel: webhook, address: 'http://x.example/'}\n"))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"alpha-2", "channel must be", "https URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
