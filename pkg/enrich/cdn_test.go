package enrich

import (
	"slices"
	"testing"

	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// CDNs on the simulated internet, routed as the daemon would: a mixed
// cloud ASN is no CDN (issue 10: a host on 2001:4860:4860::8888 became a
// Google "CDN" case), while a CNAME or the RDAP network of a CDN's edge
// on a mixed ASN still is.
func TestCDNOrHoster(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Google's ARIN network for 2001:4860::/32, announced by AS15169,
	// which also carries Google Cloud: the network's own abuse contact.
	w.network(t, "arin", rdapsim.Network{Prefix: mustPrefix("2001:4860::/32"), Handle: "NET6-2001-4860-1", Name: "GOOGLE-IPV6",
		AbuseEmail: "network-abuse@google.com"}, "US", 15169, "GOOGLE")
	// Amazon's AS16509: a CloudFront edge range and an EC2 range.
	w.network(t, "arin", rdapsim.Network{Prefix: mustPrefix("13.32.0.0/15"), Handle: "NET-13-32-0-0-1", Name: "AMAZO-CF",
		AbuseEmail: "abuse@amazonaws.com"}, "US", 16509, "AMAZON-02")
	w.network(t, "arin", rdapsim.Network{Prefix: mustPrefix("3.0.0.0/9"), Handle: "NET-3-0-0-0-1", Name: "AT-88-Z",
		AbuseEmail: "ec2-abuse@amazon.example"}, "US", 16509, "AMAZON-02")
	w.DNS.AddAddr("www.g-hosted.com", 300, mustAddr("2001:4860:4860::8888"))
	w.DNS.AddCNAME("img.shop-cf.com", "d111111abcdef8.cloudfront.net", 300)
	w.DNS.AddAddr("d111111abcdef8.cloudfront.net", 300, mustAddr("13.33.0.10"))
	w.DNS.AddAddr("edge-only.com", 300, mustAddr("13.33.0.11"))
	w.DNS.AddAddr("ec2-site.com", 300, mustAddr("3.5.0.10"))
	e := w.enricher(t)
	policy := route.Policy{HotlineCountry: "NL", DomesticLang: "nl", AbroadWithoutPartner: route.AbroadNotice, CDNNotice: true}

	tests := []struct {
		name      string
		url       string
		cdn       string // provider, "" for none
		matchedBy string
		route     string
		first     string // role:email of the first notice's contact
		source    string // its source kind
	}{
		{name: "google's mixed asn, no cdn cname: the network's rdap abuse contact as hoster", url: "http://www.g-hosted.com/a.jpg",
			route: takedown.RouteHoster, first: "hoster:network-abuse@google.com", source: SourceRDAPIP},
		{name: "cloudfront by cname on amazon's mixed asn", url: "https://img.shop-cf.com/b.jpg",
			cdn: "Amazon CloudFront", matchedBy: "cname:d111111abcdef8.cloudfront.net", route: takedown.RouteCDN, first: "cdn:abuse@amazonaws.com", source: SourceCDNList},
		{name: "cloudfront by its rdap network, no cname", url: "http://edge-only.com/c.jpg",
			cdn: "Amazon CloudFront", matchedBy: "rdap_network:AMAZO-CF", route: takedown.RouteCDN, first: "cdn:abuse@amazonaws.com", source: SourceCDNList},
		{name: "ec2 on the same asn is the hoster", url: "http://ec2-site.com/d.jpg",
			route: takedown.RouteHoster, first: "hoster:ec2-abuse@amazon.example", source: SourceRDAPIP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := urlnorm.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			enr, err := e.Enrich(t.Context(), u)
			if err != nil {
				t.Fatalf("enrich: %v (problems %v)", err, enr.Problems)
			}
			switch {
			case tc.cdn == "" && enr.CDN != nil:
				t.Errorf("cdn = %+v, want none", enr.CDN)
			case tc.cdn != "" && (enr.CDN == nil || enr.CDN.Name != tc.cdn || enr.CDN.MatchedBy != tc.matchedBy || !enr.CDN.OriginUnknown):
				t.Errorf("cdn = %+v, want %s matched by %s", enr.CDN, tc.cdn, tc.matchedBy)
			}
			d := route.Decide(takedown.Case{Enrichment: &enr}, policy, nil)
			if d.Kind != tc.route || len(d.Contacts) == 0 {
				t.Fatalf("route = %s (%s) to %v, want %s", d.Kind, d.Reason, emails(d.Contacts), tc.route)
			}
			if got := emails(d.Contacts[:1])[0]; got != tc.first || d.Contacts[0].Source.Kind != tc.source {
				t.Errorf("first notice to %s (source %+v), want %s from %s", got, d.Contacts[0].Source, tc.first, tc.source)
			}
			if tc.cdn == "" && slices.ContainsFunc(enr.Contacts, func(c takedown.Contact) bool { return c.Role == RoleCDN }) {
				t.Errorf("contacts %v name a cdn", emails(enr.Contacts))
			}
		})
	}
}
