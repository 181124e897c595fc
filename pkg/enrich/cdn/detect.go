package cdn

import (
	"fmt"
	"strconv"
	"strings"
)

// Detector matches what enrichment found about a host against a list. It
// is read-only after construction and safe for concurrent use.
type Detector struct {
	providers []Provider
	byASN     map[uint]int
	bySuffix  map[string]int
	byNetwork map[string]int
	// prefixes are the rdap_networks patterns ending in "*", without it.
	prefixes []networkPrefix
}

type networkPrefix struct {
	prefix   string
	provider int
}

// Evidence is what enrichment knows about a host that can give a CDN away.
type Evidence struct {
	// CNAMEs is the host's CNAME chain, in order.
	CNAMEs []string
	// Networks are the RDAP networks of its addresses, in address order.
	Networks []Network
	// ASNs are the origin ASNs of its addresses (GeoIP), in address order.
	ASNs []uint
}

// Network is an RDAP network as the CDN list names them.
type Network struct {
	Handle, Name string
}

// Match is a recognised provider and the fact that gave it away.
type Match struct {
	Provider Provider
	// MatchedBy is "cname:x.cdn.cloudflare.net", "rdap_network:AMAZO-CF"
	// or "asn:13335", for the audit trail.
	MatchedBy string
}

// NewDetector indexes providers. An ASN, suffix or network name claimed by
// two providers is an error: the notice would go to whichever came first.
func NewDetector(providers []Provider) (*Detector, error) {
	d := &Detector{
		providers: append([]Provider(nil), providers...),
		byASN:     map[uint]int{},
		bySuffix:  map[string]int{},
		byNetwork: map[string]int{},
	}
	claim := func(what string, index map[string]int, key string, i int) error {
		if j, dup := index[key]; dup && j != i {
			return fmt.Errorf("index cdn list: %s %s claimed by %s and %s", what, key, d.providers[j].Name, d.providers[i].Name)
		}
		index[key] = i
		return nil
	}
	prefixes := map[string]int{}
	for i, p := range d.providers {
		for _, asn := range p.ASNs {
			if j, dup := d.byASN[asn]; dup && j != i {
				return nil, fmt.Errorf("index cdn list: AS%d claimed by %s and %s", asn, d.providers[j].Name, p.Name)
			}
			d.byASN[asn] = i
		}
		for _, s := range p.CNAMESuffixes {
			if err := claim("suffix", d.bySuffix, s, i); err != nil {
				return nil, err
			}
		}
		for _, n := range p.RDAPNetworks {
			if base, ok := strings.CutSuffix(n, "*"); ok {
				if err := claim("rdap network", prefixes, n, i); err != nil {
					return nil, err
				}
				d.prefixes = append(d.prefixes, networkPrefix{prefix: base, provider: i})
				continue
			}
			if err := claim("rdap network", d.byNetwork, n, i); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// Providers returns the list the detector was built from.
func (d *Detector) Providers() []Provider { return append([]Provider(nil), d.providers...) }

// Match returns the first provider recognised, trying the evidence from
// the most to the least telling: a CNAME says the name is served through
// the CDN whatever the ASN (a CloudFront name on Amazon's mixed AS16509);
// an RDAP network names the CDN's own edge range; an ASN counts only when
// the list holds it, which it does only for ASNs that carry nothing but
// the CDN. Within a name the longest suffix wins, so an operator can list
// a sub-suffix (rsc.cdn77.org) for a different provider than its parent.
func (d *Detector) Match(ev Evidence) (Match, bool) {
	for _, c := range ev.CNAMEs {
		name := normName(c)
		for s := name; s != ""; {
			if i, ok := d.bySuffix[s]; ok {
				return Match{Provider: d.providers[i], MatchedBy: "cname:" + name}, true
			}
			dot := strings.IndexByte(s, '.')
			if dot < 0 {
				break
			}
			s = s[dot+1:]
		}
	}
	for _, n := range ev.Networks {
		for _, v := range []string{n.Name, n.Handle} {
			if i, ok := d.network(strings.ToUpper(strings.TrimSpace(v))); ok {
				return Match{Provider: d.providers[i], MatchedBy: "rdap_network:" + v}, true
			}
		}
	}
	for _, asn := range ev.ASNs {
		if i, ok := d.byASN[asn]; ok {
			return Match{Provider: d.providers[i], MatchedBy: "asn:" + strconv.FormatUint(uint64(asn), 10)}, true
		}
	}
	return Match{}, false
}

// network finds the provider whose rdap_networks hold v, exact names
// before patterns, and of the patterns the longest.
func (d *Detector) network(v string) (int, bool) {
	if v == "" {
		return 0, false
	}
	if i, ok := d.byNetwork[v]; ok {
		return i, true
	}
	bestLen, provider := -1, 0
	for _, p := range d.prefixes {
		if strings.HasPrefix(v, p.prefix) && len(p.prefix) > bestLen {
			bestLen, provider = len(p.prefix), p.provider
		}
	}
	return provider, bestLen >= 0
}
