package enrich

import (
	"slices"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Hosting-country rules (the values of config.Enrich.CountryRule).
const (
	// RuleGeoIPFirst takes the GeoIP country, RDAP's when GeoIP knows none.
	RuleGeoIPFirst = "geoip_first"
	// RuleRDAPFirst takes the RDAP network's country, GeoIP's when RDAP
	// gives none.
	RuleRDAPFirst = "rdap_first"
	// RuleAgree decides only when both sources name the same country.
	RuleAgree = "agree"
)

// decideCountry applies the rule to the first address's facts. GeoIP
// locates the address, RDAP says where the network's holder registered
// it; they differ for networks used abroad, which is exactly what the
// audit must show, so a disagreement is always recorded.
func decideCountry(rule string, addrs []takedown.AddressInfo, nets []takedown.Network) takedown.CountryDecision {
	d := takedown.CountryDecision{Rule: rule}
	if i := slices.IndexFunc(addrs, func(a takedown.AddressInfo) bool { return a.Country != "" }); i >= 0 {
		d.GeoIP = addrs[i].Country
	}
	if i := slices.IndexFunc(nets, func(n takedown.Network) bool { return n.Country != "" }); i >= 0 {
		d.RDAP = nets[i].Country
	}
	d.Disagree = d.GeoIP != "" && d.RDAP != "" && d.GeoIP != d.RDAP
	switch rule {
	case RuleRDAPFirst:
		d.Country = first(d.RDAP, d.GeoIP)
	case RuleAgree:
		switch {
		case d.GeoIP == "" || d.RDAP == "":
			d.Note = "agree rule: only one source names a country"
		case !d.Disagree:
			d.Country = d.GeoIP
		}
	default:
		d.Country = first(d.GeoIP, d.RDAP)
	}
	if d.Disagree {
		d.Note = "geoip says " + d.GeoIP + ", rdap says " + d.RDAP
		if d.Country == "" {
			d.Note += ": no country decided"
		}
	}
	if d.GeoIP == "" && d.RDAP == "" {
		d.Note = "no source names a country"
	}
	return d
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
