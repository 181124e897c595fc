package config

// Enrich configures enrichment: DNS, RDAP, GeoIP, CDN detection and the hosting-country rule.
type Enrich struct{}

func defaultEnrich() Enrich { return Enrich{} }

func (x Enrich) validate(c *checker) {}
