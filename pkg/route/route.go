// Package route is the routing policy, and nothing else: given an enriched
// case it decides who can remove the material — the domestic hoster, the
// partner hotline of the hosting country, the CDN in front of it — or that
// a person must decide. It is pure, so every decision can be tested and
// explained.
package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// What to do with a case hosted abroad where no partner hotline exists.
const (
	AbroadNotice = "notice" // notice the hoster directly, in English
	AbroadReview = "review" // send it to the review queue
)

// Partner is a hotline of the INHOPE network (or another partner) that
// takes cases hosted in its country.
type Partner struct {
	Country string `yaml:"country"`
	Name    string `yaml:"name"`
	Channel string `yaml:"channel"` // email, webhook or nats
	Address string `yaml:"address"` // e-mail address, https URL or NATS subject
	Lang    string `yaml:"lang,omitempty"`
	// SecretEnv names the environment variable with the webhook secret.
	SecretEnv string `yaml:"secret_env,omitempty"`
	// Disabled partners are listed for reference but not forwarded to.
	Disabled bool `yaml:"disabled,omitempty"`
}

// Policy is the routing configuration.
type Policy struct {
	HotlineCountry string
	// DomesticLang is the language of notices to hosters at home.
	DomesticLang string
	// AbroadWithoutPartner is AbroadNotice or AbroadReview.
	AbroadWithoutPartner string
	// CDNNotice notices the CDN (asking for the origin) rather than
	// sending CDN-fronted cases to review.
	CDNNotice bool
	Partners  map[string]Partner // by upper-case country code
}

// Decision is where a case goes and why.
type Decision struct {
	Kind     string // takedown.RouteHoster, RoutePartner, RouteCDN, RouteReview
	Reason   string
	Country  string
	Lang     string
	Contacts []takedown.Contact
	Partner  *Partner
}

// Routing returns the decision as the case records it.
func (d Decision) Routing() takedown.Routing {
	r := takedown.Routing{Kind: d.Kind, Reason: d.Reason, Country: d.Country, Lang: d.Lang, Contacts: d.Contacts}
	if d.Partner != nil {
		r.Partner, r.Channel = d.Partner.Name, d.Partner.Channel
	} else if len(d.Contacts) > 0 {
		r.Channel = "email"
	}
	return r
}

// Decide routes an enriched case. failing lists contact addresses that
// refused our mail for good; they are skipped so the next contact is tried.
//
// A person's choice of route (takedown.Case.RouteTo) comes first, while
// the case is hosted where it was when the choice was made; contacts a
// person added to the case (takedown.Case.AddedContacts) go before the
// enrichment's, and are told even when the policy alone would leave the
// case to a person: behind a CDN, with no enrichment or no known country.
func Decide(c takedown.Case, p Policy, failing []string) Decision {
	lapsed := ""
	if ch := c.RouteTo; ch != nil {
		if ch.AppliesTo(c.Enrichment) {
			return chosen(c, *ch, p, failing)
		}
		lapsed = fmt.Sprintf("the route %s chose no longer applies (the material moved); ", ch.By)
	}
	d := decide(c, p, failing)
	d.Reason = lapsed + d.Reason
	return d
}

func decide(c takedown.Case, p Policy, failing []string) Decision {
	e := c.Enrichment
	added := hosterContacts(c.AddedContacts, failing)
	if e == nil {
		if len(added) > 0 {
			return Decision{Kind: takedown.RouteHoster, Lang: langOf(added, "en"), Contacts: added,
				Reason: fmt.Sprintf("no enrichment, but %s added the hoster's contact: notice to it", added[0].Source.Handle)}
		}
		return review("case has no enrichment")
	}
	if e.CDN != nil {
		if len(added) > 0 {
			return Decision{Kind: takedown.RouteHoster, Country: e.HostingCountry(), Lang: langOf(added, "en"), Contacts: added,
				Reason: fmt.Sprintf("behind %s, but %s added the site's operator's contact: notice to it directly", e.CDN.Name, added[0].Source.Handle)}
		}
		if book := bookHosters(e.Contacts, failing); len(book) > 0 {
			// The hotline's own contact book names the site's operator: it
			// knows the origin the CDN hides, so that operator is told
			// directly, without asking the CDN first.
			return Decision{Kind: takedown.RouteHoster, Country: e.HostingCountry(), Lang: langOf(book, "en"), Contacts: book,
				Reason: fmt.Sprintf("behind %s, but the contact book names the site's operator (%s): notice to it directly", e.CDN.Name, book[0].Source.Handle)}
		}
		if !p.CDNNotice {
			return review(fmt.Sprintf("behind %s; CDN notices are switched off", e.CDN.Name))
		}
		if e.CDN.Contact == nil || slices.Contains(failing, e.CDN.Contact.Email) {
			return review(fmt.Sprintf("behind %s, which has no working abuse contact", e.CDN.Name))
		}
		return Decision{
			Kind: takedown.RouteCDN, Country: e.HostingCountry(), Lang: "en",
			Reason:   fmt.Sprintf("addresses belong to %s (%s); the origin hoster is unknown, so the CDN is asked to act and name it", e.CDN.Name, e.CDN.MatchedBy),
			Contacts: []takedown.Contact{*e.CDN.Contact},
		}
	}
	country := strings.ToUpper(e.HostingCountry())
	if country == "" && len(added) > 0 {
		return Decision{Kind: takedown.RouteHoster, Lang: langOf(added, "en"), Contacts: added,
			Reason: fmt.Sprintf("hosting country unknown, but %s added the hoster's contact: notice to it", added[0].Source.Handle)}
	}
	if country == "" {
		why := "hosting country unknown"
		if e.Country.Disagree {
			why = fmt.Sprintf("hosting country unclear: GeoIP says %q, RDAP says %q", e.Country.GeoIP, e.Country.RDAP)
		}
		return review(why)
	}
	home := strings.ToUpper(p.HotlineCountry)
	contacts := hosterContacts(append(slices.Clone(c.AddedContacts), e.Contacts...), failing)
	if country == home {
		if len(contacts) == 0 {
			return review(fmt.Sprintf("hosted in %s but no working abuse contact found", country))
		}
		return Decision{Kind: takedown.RouteHoster, Country: country, Lang: langOf(contacts, p.DomesticLang), Contacts: contacts,
			Reason: fmt.Sprintf("hosted in %s, the hotline's own country: notice to the hoster's abuse contact", country)}
	}
	if partner, ok := p.Partners[country]; ok && !partner.Disabled && partner.Address != "" && country != home {
		lang := partner.Lang
		if lang == "" {
			lang = "en"
		}
		return Decision{Kind: takedown.RoutePartner, Country: country, Lang: lang, Partner: &partner,
			Reason: fmt.Sprintf("hosted in %s: forward to the partner hotline %s by %s", country, partner.Name, partner.Channel)}
	}
	if p.AbroadWithoutPartner != AbroadNotice {
		return review(fmt.Sprintf("hosted in %s, which has no partner hotline; direct notices abroad are switched off", country))
	}
	if len(contacts) == 0 {
		return review(fmt.Sprintf("hosted in %s, no partner hotline and no working abuse contact", country))
	}
	return Decision{Kind: takedown.RouteHoster, Country: country, Lang: langOf(contacts, "en"), Contacts: contacts,
		Reason: fmt.Sprintf("hosted in %s, which has no partner hotline: direct notice to the hoster", country)}
}

// langOf is the language of a notice to contacts: what the contact book
// says the first contact reads, else the route's own rule.
func langOf(contacts []takedown.Contact, fallback string) string {
	if len(contacts) > 0 && contacts[0].Language != "" {
		return contacts[0].Language
	}
	return fallback
}

// bookHosters are the working hoster contacts that came from the hotline's
// contact book (a domain entry names the site's operator).
func bookHosters(all []takedown.Contact, failing []string) []takedown.Contact {
	var out []takedown.Contact
	for _, c := range hosterContacts(all, failing) {
		if c.Source.Kind == takedown.SourceContactBook {
			out = append(out, c)
		}
	}
	return out
}

// chosen is the decision a person's choice of route makes: the contact
// chosen (unless it is failing) or the partner hotline chosen (unless it
// takes no forwards), else review with the reason.
func chosen(c takedown.Case, ch takedown.RouteChoice, p Policy, failing []string) Decision {
	country := strings.ToUpper(c.Enrichment.HostingCountry())
	why := ""
	if ch.Reason != "" {
		why = ": " + ch.Reason
	}
	if ct := ch.Contact; ct != nil {
		if slices.ContainsFunc(failing, func(f string) bool { return strings.EqualFold(f, ct.Email) }) {
			return review(fmt.Sprintf("the contact %s chose, %s, is failing", ch.By, ct.Email))
		}
		lang := "en"
		if country != "" && country == strings.ToUpper(p.HotlineCountry) {
			lang = p.DomesticLang
		}
		return Decision{Kind: takedown.RouteHoster, Country: country, Lang: langOf([]takedown.Contact{*ct}, lang), Contacts: []takedown.Contact{*ct},
			Reason: fmt.Sprintf("routed by %s to %s%s", ch.By, ct.Email, why)}
	}
	partner, ok := p.Partners[strings.ToUpper(ch.Partner)]
	if !ok || partner.Disabled || partner.Address == "" {
		return review(fmt.Sprintf("the partner hotline %s chose (%s) takes no forwards", ch.By, ch.Partner))
	}
	lang := partner.Lang
	if lang == "" {
		lang = "en"
	}
	return Decision{Kind: takedown.RoutePartner, Country: partner.Country, Lang: lang, Partner: &partner,
		Reason: fmt.Sprintf("routed by %s to the partner hotline %s by %s%s", ch.By, partner.Name, partner.Channel, why)}
}

func review(reason string) Decision {
	return Decision{Kind: takedown.RouteReview, Reason: reason}
}

// hosterContacts keeps the contacts a first notice goes to, in order, with
// failing addresses and duplicates removed. Registrar and upstream contacts
// are for escalation, not for the first notice.
func hosterContacts(all []takedown.Contact, failing []string) []takedown.Contact {
	var out []takedown.Contact
	seen := map[string]bool{}
	for _, c := range all {
		email := strings.ToLower(c.Email)
		if c.Role != "hoster" || email == "" || seen[email] || slices.Contains(failing, email) {
			continue
		}
		seen[email] = true
		out = append(out, c)
	}
	return out
}
