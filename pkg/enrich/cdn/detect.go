package cdn

import (
	"fmt"
	"strconv"
	"strings"
)

// Detector matches addresses' ASNs and CNAME chains against a list. It is
// read-only after construction and safe for concurrent use.
type Detector struct {
	providers []Provider
	byASN     map[uint]int
	bySuffix  map[string]int
}

// Match is a recognised provider and the fact that gave it away.
type Match struct {
	Provider Provider
	// MatchedBy is "asn:13335" or "cname:x.cdn.cloudflare.net", for the
	// audit trail.
	MatchedBy string
}

// NewDetector indexes providers. An ASN or suffix claimed by two providers
// is an error: the notice would go to whichever came first.
func NewDetector(providers []Provider) (*Detector, error) {
	d := &Detector{
		providers: append([]Provider(nil), providers...),
		byASN:     map[uint]int{},
		bySuffix:  map[string]int{},
	}
	for i, p := range d.providers {
		for _, asn := range p.ASNs {
			if j, dup := d.byASN[asn]; dup && j != i {
				return nil, fmt.Errorf("index cdn list: AS%d claimed by %s and %s", asn, d.providers[j].Name, p.Name)
			}
			d.byASN[asn] = i
		}
		for _, s := range p.CNAMESuffixes {
			if j, dup := d.bySuffix[s]; dup && j != i {
				return nil, fmt.Errorf("index cdn list: suffix %s claimed by %s and %s", s, d.providers[j].Name, p.Name)
			}
			d.bySuffix[s] = i
		}
	}
	return d, nil
}

// Providers returns the list the detector was built from.
func (d *Detector) Providers() []Provider { return append([]Provider(nil), d.providers...) }

// Match returns the first provider recognised. CNAMEs are tried first, in
// chain order, because a name says more than an ASN: Google's ASNs also
// host origins, a CloudFront name is CloudFront whatever the ASN. Within a
// name the longest suffix wins, so an operator can list a sub-suffix
// (rsc.cdn77.org) for a different provider than its parent.
func (d *Detector) Match(asns []uint, cnames []string) (Match, bool) {
	for _, c := range cnames {
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
	for _, asn := range asns {
		if i, ok := d.byASN[asn]; ok {
			return Match{Provider: d.providers[i], MatchedBy: "asn:" + strconv.FormatUint(uint64(asn), 10)}, true
		}
	}
	return Match{}, false
}
