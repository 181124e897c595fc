package route

import (
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestDecideFollowsPeople: a person's choice of route comes first while
// the case is hosted where it was chosen, contacts a person added go first
// and are told where the policy alone would leave the case in review.
func TestDecideFollowsPeople(t *testing.T) {
	t.Parallel()
	policy := Policy{
		HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: AbroadReview, CDNNotice: false,
		Partners: map[string]Partner{
			"DE": {Country: "DE", Name: "eco", Channel: "email", Address: "in@eco.example"},
			"FR": {Country: "FR", Name: "PDC", Channel: "email"},
		},
	}
	manual := takedown.Contact{Email: "desk@hoster.nl", Role: "hoster", Source: takedown.Source{Kind: takedown.SourceManual, Handle: "alice"}}
	withNet := func(c takedown.Case, handle string) takedown.Case {
		c.Enrichment.Networks = []takedown.Network{{Handle: handle}}
		return c
	}
	choice := func(ch takedown.RouteChoice, on *takedown.Enrichment) *takedown.RouteChoice {
		ch.By = "alice"
		ch = takedown.NewRouteChoice(ch, on)
		return &ch
	}
	unknown := withNet(enriched(""), "NET-1")
	toContact := unknown
	toContact.RouteTo = choice(takedown.RouteChoice{Contact: &takedown.Contact{Email: "abuse@found.nl", Role: "hoster"}, Reason: "phoned them"}, unknown.Enrichment)
	moved := withNet(enriched("NL", "abuse@new-hoster.nl"), "NET-2")
	moved.RouteTo = toContact.RouteTo
	toPartner := withNet(enriched("BE", "abuse@hoster.be"), "NET-3")
	toPartner.RouteTo = choice(takedown.RouteChoice{Partner: "DE"}, toPartner.Enrichment)
	toDeadPartner := toPartner
	toDeadPartner.RouteTo = choice(takedown.RouteChoice{Partner: "FR"}, toPartner.Enrichment)
	failingChoice := toContact
	cdn := enriched("US")
	cdn.Enrichment.CDN = &takedown.CDN{Name: "Cloudflare", MatchedBy: "asn:13335"}
	cdn.AddedContacts = []takedown.Contact{manual}
	noEnrichment := takedown.Case{ID: "C2", AddedContacts: []takedown.Contact{manual}}
	unknownAdded := enriched("")
	unknownAdded.AddedContacts = []takedown.Contact{manual}
	homeAdded := enriched("NL", "abuse@rdap.nl")
	homeAdded.AddedContacts = []takedown.Contact{manual}
	abroadAdded := enriched("US", "abuse@rdap.us")
	abroadAdded.AddedContacts = []takedown.Contact{manual}

	tests := []struct {
		name     string
		c        takedown.Case
		failing  []string
		kind     string
		to       string
		reasonIn string
	}{
		{"a chosen contact", toContact, nil, takedown.RouteHoster, "abuse@found.nl", "routed by alice to abuse@found.nl: phoned them"},
		{"a chosen contact that is failing", failingChoice, []string{"abuse@found.nl"}, takedown.RouteReview, "", "the contact alice chose, abuse@found.nl, is failing"},
		{"a choice after the material moved", moved, nil, takedown.RouteHoster, "abuse@new-hoster.nl", "the route alice chose no longer applies"},
		{"a chosen partner", toPartner, nil, takedown.RoutePartner, "in@eco.example", "routed by alice to the partner hotline eco"},
		{"a chosen partner without an address", toDeadPartner, nil, takedown.RouteReview, "", "takes no forwards"},
		{"an added contact behind a CDN", cdn, nil, takedown.RouteHoster, "desk@hoster.nl", "alice added the site's operator's contact"},
		{"an added contact without enrichment", noEnrichment, nil, takedown.RouteHoster, "desk@hoster.nl", "no enrichment"},
		{"an added contact, country unknown", unknownAdded, nil, takedown.RouteHoster, "desk@hoster.nl", "hosting country unknown"},
		{"an added contact before RDAP's", homeAdded, nil, takedown.RouteHoster, "desk@hoster.nl", "hotline's own country"},
		{"an added contact that is failing", homeAdded, []string{"desk@hoster.nl"}, takedown.RouteHoster, "abuse@rdap.nl", ""},
		{"an added contact does not lift the policy abroad", abroadAdded, nil, takedown.RouteReview, "", "direct notices abroad are switched off"},
	}
	for _, tt := range tests {
		d := Decide(tt.c, policy, tt.failing)
		to := ""
		switch {
		case d.Partner != nil:
			to = d.Partner.Address
		case len(d.Contacts) > 0:
			to = d.Contacts[0].Email
		}
		if d.Kind != tt.kind || to != tt.to || !strings.Contains(d.Reason, tt.reasonIn) {
			t.Errorf("%s: %s to %q (%s), want %s to %q with %q", tt.name, d.Kind, to, d.Reason, tt.kind, tt.to, tt.reasonIn)
		}
	}
}
