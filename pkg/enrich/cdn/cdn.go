// Package cdn recognises CDNs and reverse proxies in front of a reported
// URL: by the suffix of the names in its CNAME chain, by the name or
// handle of the RDAP network its addresses are in, and — only for ASNs
// that carry nothing but the CDN — by the ASN of its addresses. An address
// inside a CDN belongs to the CDN, not to the hoster, so routing sends the
// notice to the CDN and asks for the origin. An ASN that also carries
// hosting (Google's, Amazon's, Microsoft's) proves nothing: an address
// there is as likely the origin itself, whose network's own abuse contact
// is the one to tell.
//
// The list ships in the binary (cdn.yaml, the same text as config/cdn.yaml)
// and can be replaced or extended by a file of the same shape.
package cdn

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"os"
	"strings"

	mdns "github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// defaultList is the built-in list; config/cdn.yaml is a copy for users to
// start from, and a test keeps the two identical.
//
//go:embed cdn.yaml
var defaultList []byte

// Kind says what else a provider's network carries.
type Kind string

// The kinds of provider.
const (
	// KindCDN is a content delivery network only.
	KindCDN Kind = "cdn"
	// KindReverseProxy is a DDoS-protection or WAF proxy only.
	KindReverseProxy Kind = "reverse_proxy"
	// KindCDNOrCloud shares its ASNs with hosting, so an address there may
	// be the origin itself: it is recognised by CNAME or RDAP network
	// only, never by ASN.
	KindCDNOrCloud Kind = "cdn_or_cloud"
)

// Provider is one CDN or reverse proxy.
type Provider struct {
	Name          string   `yaml:"name"`
	Kind          Kind     `yaml:"kind"`
	Abuse         string   `yaml:"abuse"`
	AbuseForm     string   `yaml:"abuse_form"`
	ASNs          []uint   `yaml:"asns"`
	CNAMESuffixes []string `yaml:"cname_suffixes"`
	// RDAPNetworks are names or handles of the RDAP networks that hold
	// only the CDN's edge, compared without case; a trailing "*" matches
	// any name that starts with the rest ("AMAZO-CF*").
	RDAPNetworks []string `yaml:"rdap_networks"`
	Source       string   `yaml:"source"`
}

type file struct {
	Providers []Provider `yaml:"providers"`
}

// Mode says how a configured list combines with the built-in one.
type Mode string

// The ways a configured list combines with the built-in one.
const (
	// ModeExtend adds the configured providers; one with the name of a
	// built-in provider replaces it.
	ModeExtend Mode = "extend"
	// ModeReplace uses the configured list alone.
	ModeReplace Mode = "replace"
)

// Config says where an operator's list is and how to use it.
type Config struct {
	// Path of a YAML file shaped like config/cdn.yaml; empty means the
	// built-in list alone.
	Path string
	// Mode is ModeExtend (default) or ModeReplace.
	Mode Mode
}

// Default returns the built-in list.
func Default() ([]Provider, error) {
	return Parse(bytes.NewReader(defaultList))
}

// Parse reads and checks a list. Unknown fields are errors, so a typo in an
// operator's file does not silently drop a provider's ASNs.
func Parse(r io.Reader) ([]Provider, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode cdn list: %w", err)
	}
	for i := range f.Providers {
		p, err := normalise(f.Providers[i])
		if err != nil {
			return nil, err
		}
		f.Providers[i] = p
	}
	return f.Providers, nil
}

// Load returns the built-in list combined with the configured one.
func Load(cfg Config) ([]Provider, error) {
	builtin, err := Default()
	if err != nil {
		return nil, err
	}
	if cfg.Path == "" {
		return builtin, nil
	}
	fh, err := os.Open(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open cdn list: %w", err)
	}
	defer fh.Close()
	own, err := Parse(fh)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", cfg.Path, err)
	}
	switch cfg.Mode {
	case ModeReplace:
		return own, nil
	case ModeExtend, "":
		return extend(builtin, own), nil
	default:
		return nil, fmt.Errorf("load %s: unknown mode %q (want extend or replace)", cfg.Path, cfg.Mode)
	}
}

// extend lays own over base: same-named providers are replaced in place,
// new ones appended.
func extend(base, own []Provider) []Provider {
	out := append([]Provider(nil), base...)
	index := map[string]int{}
	for i, p := range out {
		index[strings.ToLower(p.Name)] = i
	}
	for _, p := range own {
		if i, ok := index[strings.ToLower(p.Name)]; ok {
			out[i] = p
			continue
		}
		index[strings.ToLower(p.Name)] = len(out)
		out = append(out, p)
	}
	return out
}

// normalise checks one entry and brings its suffixes to the form the
// detector compares: lower case, no wildcard, no dots at either end.
func normalise(p Provider) (Provider, error) {
	if p.Name == "" {
		return p, errors.New("check cdn entry: name missing")
	}
	switch p.Kind {
	case KindCDN, KindReverseProxy, KindCDNOrCloud:
	default:
		return p, fmt.Errorf("check cdn %s: kind %q (want cdn, reverse_proxy or cdn_or_cloud)", p.Name, p.Kind)
	}
	if _, err := mail.ParseAddress(p.Abuse); err != nil {
		return p, fmt.Errorf("check cdn %s: abuse address %q: %w", p.Name, p.Abuse, err)
	}
	for _, asn := range p.ASNs {
		if asn == 0 || uint64(asn) > math.MaxUint32 {
			return p, fmt.Errorf("check cdn %s: asn %d out of range", p.Name, asn)
		}
		if p.Kind == KindCDNOrCloud {
			return p, fmt.Errorf("check cdn %s: AS%d: a cdn_or_cloud ASN carries hosting too, so an address there may be the origin; match by cname_suffixes or rdap_networks", p.Name, asn)
		}
	}
	networks := make([]string, 0, len(p.RDAPNetworks))
	for _, n := range p.RDAPNetworks {
		n = strings.ToUpper(strings.TrimSpace(n))
		if base := strings.TrimSuffix(n, "*"); base == "" || strings.Contains(base, "*") {
			return p, fmt.Errorf("check cdn %s: rdap network %q: a name, or a name's start followed by one *", p.Name, n)
		}
		networks = append(networks, n)
	}
	p.RDAPNetworks = networks
	suffixes := make([]string, 0, len(p.CNAMESuffixes))
	for _, s := range p.CNAMESuffixes {
		n := normName(strings.TrimPrefix(strings.TrimSpace(s), "*."))
		if _, ok := mdns.IsDomainName(n); !ok || n == "" || !strings.Contains(n, ".") {
			return p, fmt.Errorf("check cdn %s: cname suffix %q is not a domain under a tld", p.Name, s)
		}
		suffixes = append(suffixes, n)
	}
	p.CNAMESuffixes = suffixes
	if len(p.ASNs) == 0 && len(p.CNAMESuffixes) == 0 && len(p.RDAPNetworks) == 0 {
		return p, fmt.Errorf("check cdn %s: neither asns, cname suffixes nor rdap networks to match by", p.Name)
	}
	if strings.TrimSpace(p.Source) == "" {
		return p, fmt.Errorf("check cdn %s: source missing: say where its ASNs, names and address come from", p.Name)
	}
	return p, nil
}

func normName(s string) string {
	return strings.Trim(strings.ToLower(s), ".")
}
