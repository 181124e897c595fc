package config

import (
	"fmt"
	"math"
	"strings"
)

// validateBinding checks what a token is bound to against its role: a
// partner token names its partner hotline's country, a hoster token its
// domains or ASNs, and no other token names either.
func (t Token) validateBinding(c *checker, key, hotlineCountry string) {
	switch t.Role {
	case "partner":
		switch p := t.Partner; {
		case p == "":
			c.add(key+".partner", "must be set for a partner token: the country code of its hotline in the partner directory")
		case len(p) != 2 || strings.ToUpper(p) != p || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
			c.add(key+".partner", "%q is not an upper-case ISO 3166-1 alpha-2 code", p)
		case p == hotlineCountry:
			c.add(key+".partner", "%s is the hotline's own country (route.hotline_country): no case is forwarded there", p)
		}
	case "hoster":
		if len(t.Domains)+len(t.ASNs) == 0 {
			c.add(key, "a hoster token needs domains or asns: what it sees are the cases noticed to them")
		}
		for j, d := range t.Domains {
			if !domainName(d) {
				c.add(fmt.Sprintf("%s.domains[%d]", key, j), "%q is not a domain name (lower-case, with a dot, no @ or wildcard)", d)
			}
		}
		for j, a := range t.ASNs {
			if a == 0 || uint64(a) > math.MaxUint32 {
				c.add(fmt.Sprintf("%s.asns[%d]", key, j), "AS%d is out of range (1–4294967295)", a)
			}
		}
	}
	if t.Role != "partner" && t.Partner != "" {
		c.add(key+".partner", "only a partner token is bound to a partner hotline (role is %q)", t.Role)
	}
	if t.Role != "hoster" && len(t.Domains)+len(t.ASNs) > 0 {
		c.add(key, "only a hoster token is bound to domains and asns (role is %q)", t.Role)
	}
}

// domainName reports whether d is a lower-case DNS name with at least two
// labels (IDNs in their xn-- form).
func domainName(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
