package takedown

import (
	"slices"
	"strconv"
	"strings"
)

// Audience keys name the parties outside the hotline a case was told
// about. A partner hotline's or a hoster's API token sees the cases that
// carry one of its keys (package scope), so they are the one rule of who
// outside may see a case, shared by the case index, lists and statistics.
const (
	audienceTo      = "to:"      // a notice was addressed to an address in this domain
	audienceASN     = "asn:"     // a notice went to the hoster (or CDN) of a case hosted in this AS
	audiencePartner = "partner:" // a forward went to the partner hotline of this country
	audienceForward = "forward:" // a forward went to this address (partner e-mail, webhook or subject)
)

// AudienceDomain is the key of the cases noticed to an address in domain
// (or in a name below it).
func AudienceDomain(domain string) string {
	return audienceTo + strings.TrimSuffix(strings.ToLower(domain), ".")
}

// AudienceASN is the key of the cases hosted in AS asn whose hoster or CDN
// was noticed.
func AudienceASN(asn uint) string { return audienceASN + strconv.FormatUint(uint64(asn), 10) }

// AudiencePartner is the key of the cases forwarded to the partner hotline
// of country.
func AudiencePartner(country string) string { return audiencePartner + strings.ToUpper(country) }

// AudienceForward is the key of the cases forwarded to address: a forward
// recorded before forwards carried their partner's country is found by it.
func AudienceForward(address string) string { return audienceForward + strings.ToLower(address) }

// Audiences are the case's audience keys, sorted. They derive from
// Notices, Routing and Enrichment (its addresses and contacts) alone, which
// is what the case index decodes: every notice addressed to an e-mail
// address gives the address's domain and each name above it that still
// has a dot; a notice that reached the case's current hoster or CDN
// (NoticedHosters) gives the ASNs the case is hosted in; a forward gives
// its partner's country and its address. A notice counts whatever became
// of it: it was addressed to that party.
//
// An anonymised case has no addresses left to derive them from: it keeps
// the keys it had (Anonymised.Audiences), so the parties told about it
// still count it in their statistics.
func (c *Case) Audiences() []string {
	if c.Anonymised != nil {
		return slices.Clone(c.Anonymised.Audiences)
	}
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, n := range c.Notices {
		if n.Kind == NoticeKindForward || n.Level == NoticeLevelPartner {
			country := n.Partner
			if country == "" && c.Routing != nil && c.Routing.Kind == RoutePartner {
				country = c.Routing.Country
			}
			if country != "" {
				add(AudiencePartner(country))
			}
			if n.To != "" {
				add(AudienceForward(n.To))
			}
			continue
		}
		for _, d := range DomainsOf(n.To) {
			add(AudienceDomain(d))
		}
	}
	if len(c.NoticedHosters()) > 0 {
		for _, a := range c.Enrichment.Addresses {
			if a.ASN != 0 {
				add(AudienceASN(a.ASN))
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// NoticedHosters are the addresses of the case's current hoster (or CDN) —
// its enrichment's hoster and CDN contacts — that a notice to the hoster
// or CDN went to, lower case. A hoster bound by ASN is told by them that a
// case hosted in its AS is its own: a notice to the hoster before the
// material moved into the AS does not count.
func (c *Case) NoticedHosters() []string {
	e := c.Enrichment
	if e == nil {
		return nil
	}
	current := map[string]bool{}
	for _, ct := range e.Contacts {
		if ct.Role == "hoster" || ct.Role == "cdn" {
			current[strings.ToLower(ct.Email)] = true
		}
	}
	if e.CDN != nil && e.CDN.Contact != nil {
		current[strings.ToLower(e.CDN.Contact.Email)] = true
	}
	var out []string
	for _, n := range c.Notices {
		to := strings.ToLower(n.To)
		if (n.Level == "" || n.Level == "hoster" || n.Level == "cdn") && current[to] && !slices.Contains(out, to) {
			out = append(out, to)
		}
	}
	return out
}

// DomainsOf is the domain of an e-mail address and every name above it
// that still has a dot ("abuse@mail.a.nl": mail.a.nl, a.nl); none for
// something that is not an address.
func DomainsOf(email string) []string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return nil
	}
	d := strings.TrimSuffix(strings.ToLower(email[at+1:]), ".")
	var out []string
	for strings.Contains(d, ".") {
		out = append(out, d)
		d = d[strings.IndexByte(d, '.')+1:]
	}
	return out
}
