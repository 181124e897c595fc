package config

import "strings"

// Route configures the routing policy: hotline country, partner hotlines
// and what happens to cases nobody can be told about.
type Route struct {
	// HotlineCountry is the hotline's own country (ISO 3166-1 alpha-2):
	// cases hosted there get a notice to the hoster.
	HotlineCountry string `yaml:"hotline_country"`
	// DomesticLang is the language of notices at home ("nl" gives Dutch
	// followed by English).
	DomesticLang string `yaml:"domestic_lang"`
	// AbroadWithoutPartner is "notice" (direct notice in English) or
	// "review" (the review queue).
	AbroadWithoutPartner string `yaml:"abroad_without_partner"`
	// CDNNotice notices the CDN in front of a site, asking for the origin;
	// false sends CDN-fronted cases to review.
	CDNNotice bool `yaml:"cdn_notice"`
	// PartnersFile is the partner directory; empty uses the built-in copy
	// of config/partners.yaml (names only, no addresses).
	PartnersFile string `yaml:"partners_file"`
	// Workers is how many cases are routed at once per replica. Routing
	// costs little CPU but several JetStream round trips (read the case,
	// write it, add it to its contact's batch), so its workers mostly
	// wait: in a 20,000-report burst, 64 workers cut a case's time in
	// routing from p50 3½ minutes (8 workers) to 30 s.
	Workers int `yaml:"workers"`
}

func defaultRoute() Route {
	return Route{HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: "notice", CDNNotice: true, Workers: 64}
}

func (r Route) validate(c *checker) {
	if len(r.HotlineCountry) != 2 || strings.ToUpper(r.HotlineCountry) != r.HotlineCountry {
		c.add("route.hotline_country", "%q is not an upper-case ISO 3166-1 alpha-2 code", r.HotlineCountry)
	}
	c.oneOf("route.domestic_lang", r.DomesticLang, "nl", "en")
	c.oneOf("route.abroad_without_partner", r.AbroadWithoutPartner, "notice", "review")
	c.positive("route.workers", r.Workers)
}
