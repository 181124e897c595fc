package cdn

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedListIsTheConfigFile(t *testing.T) {
	t.Parallel()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "cdn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, defaultList) {
		t.Errorf("config/cdn.yaml and pkg/enrich/cdn/cdn.yaml differ; copy one over the other")
	}
}

func TestDefaultList(t *testing.T) {
	t.Parallel()
	list, err := Default()
	if err != nil {
		t.Fatalf("parse built-in list: %v", err)
	}
	if _, err := NewDetector(list); err != nil {
		t.Fatalf("index built-in list: %v", err)
	}
	// ASNs that carry hosting besides a CDN: an address there may be the
	// origin, so the list must not claim it for the CDN (issue 10).
	mixed := map[uint]string{16509: "all of AWS", 8075: "all of Microsoft", 15169: "Google services and Google Cloud",
		396982: "Google Cloud", 60068: "DataCamp hosting", 57724: "DDoS-Guard hosting", 199524: "Gcore cloud",
		33438: "StackPath edge compute", 32787: "Prolexic routed customers", 63949: "Linode"}
	names := map[string]bool{}
	for _, p := range list {
		names[p.Name] = true
		for _, asn := range p.ASNs {
			if why, bad := mixed[asn]; bad {
				t.Errorf("%s matches AS%d (%s)", p.Name, asn, why)
			}
		}
	}
	for _, want := range []string{"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront", "Google",
		"Microsoft Azure CDN / Front Door", "Sucuri", "Imperva Incapsula", "StackPath", "BunnyCDN",
		"KeyCDN", "CDN77", "DDoS-Guard", "Gcore"} {
		if !names[want] {
			t.Errorf("built-in list lacks %s", want)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	list, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(list)
	if err != nil {
		t.Fatal(err)
	}
	net := func(handle, name string) []Network { return []Network{{Handle: handle, Name: name}} }
	tests := []struct {
		name      string
		ev        Evidence
		want      string // provider name, "" for no match
		matchedBy string
		kind      Kind
	}{
		{"cloudflare by asn", Evidence{ASNs: []uint{64500, 13335}}, "Cloudflare", "asn:13335", KindReverseProxy},
		{"cloudflare by cname", Evidence{CNAMEs: []string{"www.example.com.cdn.cloudflare.net"}}, "Cloudflare",
			"cname:www.example.com.cdn.cloudflare.net", KindReverseProxy},
		{"cloudflare by rdap network, no geoip asn", Evidence{Networks: net("NET-104-16-0-0-1", "CLOUDFLARENET")}, "Cloudflare",
			"rdap_network:CLOUDFLARENET", KindReverseProxy},
		{"cname case and trailing dot", Evidence{CNAMEs: []string{"E1234.A.AkamaiEdge.NET."}}, "Akamai",
			"cname:e1234.a.akamaiedge.net", KindCDN},
		{"suffix itself", Evidence{CNAMEs: []string{"fastly.net"}}, "Fastly", "cname:fastly.net", KindCDN},
		{"cloudfront by cname on amazon's mixed asn", Evidence{ASNs: []uint{16509}, CNAMEs: []string{"d111111abcdef8.cloudfront.net"}},
			"Amazon CloudFront", "cname:d111111abcdef8.cloudfront.net", KindCDNOrCloud},
		{"cloudfront by its rdap network on amazon's mixed asn", Evidence{ASNs: []uint{16509}, Networks: net("NET-65-8-0-0-3", "AMAZO-CF")},
			"Amazon CloudFront", "rdap_network:AMAZO-CF", KindCDNOrCloud},
		{"rdap network pattern, any case", Evidence{Networks: net("NET-54-192-0-0-1", "amazo-cf2")},
			"Amazon CloudFront", "rdap_network:amazo-cf2", KindCDNOrCloud},
		{"an ec2 network on the same asn is no cdn", Evidence{ASNs: []uint{16509}, Networks: net("NET-3-0-0-0-1", "AT-88-Z")}, "", "", ""},
		{"aws asn alone is no cdn", Evidence{ASNs: []uint{16509}}, "", "", ""},
		{"microsoft asn alone is no cdn", Evidence{ASNs: []uint{8075}}, "", "", ""},
		{"google's asn alone is no cdn (8.8.8.8, Google Cloud)", Evidence{ASNs: []uint{15169}, Networks: net("NET6-2001-4860-1", "GOOGLE-IPV6")}, "", "", ""},
		{"google cloud's asn alone is no cdn", Evidence{ASNs: []uint{396982}}, "", "", ""},
		{"google-hosted custom domain by cname", Evidence{ASNs: []uint{15169}, CNAMEs: []string{"ghs.googlehosted.com"}}, "Google",
			"cname:ghs.googlehosted.com", KindCDNOrCloud},
		{"azure front door", Evidence{CNAMEs: []string{"shop.azurefd.net"}}, "Microsoft Azure CDN / Front Door",
			"cname:shop.azurefd.net", KindCDNOrCloud},
		{"traffic manager hands out the origin's addresses", Evidence{CNAMEs: []string{"shop.trafficmanager.net"}}, "", "", ""},
		{"cname wins over rdap network and asn", Evidence{ASNs: []uint{13335}, Networks: net("X", "AMAZO-CF"), CNAMEs: []string{"x.b-cdn.net"}},
			"BunnyCDN", "cname:x.b-cdn.net", KindCDN},
		{"rdap network wins over asn", Evidence{ASNs: []uint{13335}, Networks: net("X", "AMAZO-CF")}, "Amazon CloudFront", "rdap_network:AMAZO-CF", KindCDNOrCloud},
		{"first matching name in chain order", Evidence{CNAMEs: []string{"shop.example.net", "shop.edgekey.net", "e1.akamaiedge.net"}}, "Akamai",
			"cname:shop.edgekey.net", KindCDN},
		{"suffix only on a label boundary", Evidence{CNAMEs: []string{"evilcloudfront.net", "fastly.net.example.org"}}, "", "", ""},
		{"datacamp hosting is no cdn", Evidence{ASNs: []uint{60068}}, "", "", ""},
		{"nothing known", Evidence{ASNs: []uint{64500}, CNAMEs: []string{"www.example.org"}}, "", "", ""},
		{"nothing given", Evidence{}, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ok := d.Match(tc.ev)
			if ok != (tc.want != "") || m.Provider.Name != tc.want {
				t.Fatalf("match = %q, %v, want %q", m.Provider.Name, ok, tc.want)
			}
			if m.MatchedBy != tc.matchedBy || m.Provider.Kind != tc.kind {
				t.Errorf("matched by %q kind %q, want %q kind %q", m.MatchedBy, m.Provider.Kind, tc.matchedBy, tc.kind)
			}
			if ok && !strings.Contains(m.Provider.Abuse, "@") {
				t.Errorf("abuse contact %q", m.Provider.Abuse)
			}
		})
	}
}
