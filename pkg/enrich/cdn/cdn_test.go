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
	names := map[string]bool{}
	for _, p := range list {
		names[p.Name] = true
		if p.Source == "" {
			t.Errorf("%s has no source", p.Name)
		}
		for _, asn := range p.ASNs {
			// All of AWS and all of Microsoft: an address there is
			// usually the origin, not a CDN.
			if asn == 16509 || asn == 8075 {
				t.Errorf("%s matches the whole-cloud AS%d", p.Name, asn)
			}
		}
	}
	for _, want := range []string{"Cloudflare", "Akamai", "Fastly", "Amazon CloudFront", "Google",
		"Microsoft Azure CDN / Front Door", "Sucuri", "Imperva Incapsula", "StackPath", "BunnyCDN",
		"KeyCDN", "CDN77", "DDoS-Guard"} {
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
	tests := []struct {
		name      string
		asns      []uint
		cnames    []string
		want      string // provider name, "" for no match
		matchedBy string
		kind      Kind
	}{
		{"cloudflare by asn", []uint{64500, 13335}, nil, "Cloudflare", "asn:13335", KindReverseProxy},
		{"cloudflare by its second asn", []uint{209242}, nil, "Cloudflare", "asn:209242", KindReverseProxy},
		{"cloudflare by cname", nil, []string{"www.example.com.cdn.cloudflare.net"}, "Cloudflare",
			"cname:www.example.com.cdn.cloudflare.net", KindReverseProxy},
		{"cname case and trailing dot", nil, []string{"E1234.A.AkamaiEdge.NET."}, "Akamai",
			"cname:e1234.a.akamaiedge.net", KindCDN},
		{"suffix itself", nil, []string{"fastly.net"}, "Fastly", "cname:fastly.net", KindCDN},
		{"cloudfront by cname only", []uint{16509}, []string{"d111111abcdef8.cloudfront.net"},
			"Amazon CloudFront", "cname:d111111abcdef8.cloudfront.net", KindCDN},
		{"aws asn alone is no cdn", []uint{16509}, nil, "", "", ""},
		{"microsoft asn alone is no cdn", []uint{8075}, nil, "", "", ""},
		{"azure front door", nil, []string{"shop.azurefd.net"}, "Microsoft Azure CDN / Front Door",
			"cname:shop.azurefd.net", KindCDN},
		{"google may be the origin", []uint{15169}, nil, "Google", "asn:15169", KindCDNOrCloud},
		{"cname wins over asn", []uint{15169}, []string{"x.b-cdn.net"}, "BunnyCDN", "cname:x.b-cdn.net", KindCDN},
		{"first matching name in chain order", nil,
			[]string{"shop.example.net", "shop.edgekey.net", "e1.akamaiedge.net"}, "Akamai",
			"cname:shop.edgekey.net", KindCDN},
		{"suffix only on a label boundary", nil, []string{"evilcloudfront.net", "fastly.net.example.org"}, "", "", ""},
		{"nothing known", []uint{64500}, []string{"www.example.org"}, "", "", ""},
		{"nothing given", nil, nil, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ok := d.Match(tc.asns, tc.cnames)
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
