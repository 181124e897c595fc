package rdapsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

// Network is a generated IP network, shaped like an ARIN answer: the abuse
// contact nested under the registrant organisation.
type Network struct {
	Prefix netip.Prefix
	Handle string
	// Name is the network's name (ARIN's NetName); empty means Handle.
	Name       string
	Country    string
	AbuseEmail string
	// StubAbuse leaves the e-mail out of the nested abuse entity and serves
	// it only at /entity/<handle>-ABUSE, as some registries do.
	StubAbuse bool
	// Parent, when valid, is the prefix of the network above, linked with
	// rel "up" (APNIC style) and sent as parentHandle unless ParentHandle
	// is set. The parent is a network of its own (AddNetwork).
	Parent netip.Prefix
	// ParentHandle is sent as parentHandle; without Parent it is the only
	// hint of a parent, as in ARIN answers.
	ParentHandle string
	// ASN is the AS that announces the network, for GeoIP simulations;
	// the RDAP answer does not carry it.
	ASN uint32
}

// Autnum is a generated AS number answer: the abuse contact nested under
// the registrant organisation.
type Autnum struct {
	ASN        uint32
	Name       string
	Country    string
	AbuseEmail string
}

// Domain is a generated domain at a registry.
type Domain struct {
	Name       string
	Registrar  string
	IANAID     string
	AbuseEmail string
	// RegistrarServer, when set, also serves the domain and the registry
	// answer links to it (rel "related", application/rdap+json).
	RegistrarServer *Server
}

// AddNetwork makes the server answer /ip/<addr> for every address in n.Prefix.
func (s *Server) AddNetwork(n Network) error {
	abuseHandle := n.Handle + "-ABUSE"
	abuse := map[string]any{
		"objectClassName": "entity", "handle": abuseHandle, "roles": []string{"abuse"},
		"links": []any{map[string]any{"rel": "self", "href": s.Base() + "entity/" + abuseHandle, "type": "application/rdap+json"}},
	}
	full := vcard(abuse, "Abuse "+n.Handle, n.AbuseEmail)
	if !n.StubAbuse {
		abuse = full
	}
	rng := netipx.RangeOfPrefix(n.Prefix.Masked())
	doc := map[string]any{
		"rdapConformance": []string{"rdap_level_0", "cidr0"},
		"objectClassName": "ip network",
		"handle":          n.Handle,
		"name":            cmp.Or(n.Name, n.Handle),
		"country":         n.Country,
		"startAddress":    rng.From().String(),
		"endAddress":      rng.To().String(),
		"ipVersion":       map[bool]string{true: "v4", false: "v6"}[n.Prefix.Addr().Is4()],
		"cidr0_cidrs":     []any{cidr0(n.Prefix.Masked())},
		"entities": []any{map[string]any{
			"objectClassName": "entity", "handle": "ORG-" + n.Handle, "roles": []string{"registrant"},
			"entities": []any{abuse},
		}},
	}
	if parent := n.ParentHandle; parent != "" || n.Parent.IsValid() {
		if parent == "" {
			parent = n.Parent.Masked().String()
		}
		doc["parentHandle"] = parent
	}
	if n.Parent.IsValid() {
		// Registries link to their own public host, not to a mirror.
		doc["links"] = []any{map[string]any{"rel": "up", "href": s.RealBase + "ip/" + n.Parent.Masked().String(), "type": "application/rdap+json"}}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode network %s: %w", n.Handle, err)
	}
	s.putNetwork(n.Prefix, body)
	if n.StubAbuse {
		body, err := json.Marshal(full)
		if err != nil {
			return fmt.Errorf("encode entity %s: %w", abuseHandle, err)
		}
		s.putObject("entity/"+strings.ToLower(abuseHandle), body)
	}
	return nil
}

// AddAutnum makes the server answer /autnum/<asn>.
func (s *Server) AddAutnum(a Autnum) error {
	handle := fmt.Sprintf("AS%d", a.ASN)
	doc := map[string]any{
		"rdapConformance": []string{"rdap_level_0"},
		"objectClassName": "autnum",
		"handle":          handle,
		"name":            a.Name,
		"country":         a.Country,
		"startAutnum":     a.ASN,
		"endAutnum":       a.ASN,
		"entities": []any{map[string]any{
			"objectClassName": "entity", "handle": "ORG-" + handle, "roles": []string{"registrant"},
			"entities": []any{vcard(map[string]any{"objectClassName": "entity", "handle": handle + "-ABUSE", "roles": []string{"abuse"}},
				"Abuse "+handle, a.AbuseEmail)},
		}},
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode autnum %d: %w", a.ASN, err)
	}
	s.putObject(fmt.Sprintf("autnum/%d", a.ASN), body)
	return nil
}

// AddDomain makes the server answer /domain/<name>, Verisign style: the
// registrar entity with its abuse contact nested inside.
func (s *Server) AddDomain(d Domain) error {
	name := strings.ToLower(d.Name)
	doc := domainDoc(d)
	if d.RegistrarServer != nil {
		link := d.RegistrarServer.Base() + "domain/" + strings.ToUpper(name)
		doc["links"] = []any{map[string]any{"value": link, "rel": "related", "href": link, "type": "application/rdap+json"}}
		body, err := json.Marshal(domainDoc(d))
		if err != nil {
			return fmt.Errorf("encode domain %s: %w", name, err)
		}
		d.RegistrarServer.putObject("domain/"+name, body)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode domain %s: %w", name, err)
	}
	s.putObject("domain/"+name, body)
	return nil
}

func domainDoc(d Domain) map[string]any {
	registrar := vcard(map[string]any{
		"objectClassName": "entity", "handle": d.IANAID, "roles": []string{"registrar"},
		"publicIds": []any{map[string]any{"type": "IANA Registrar ID", "identifier": d.IANAID}},
		"entities": []any{vcard(map[string]any{
			"objectClassName": "entity", "roles": []string{"abuse"},
		}, "", d.AbuseEmail)},
	}, d.Registrar, "")
	return map[string]any{
		"rdapConformance": []string{"rdap_level_0"},
		"objectClassName": "domain",
		"handle":          strings.ToUpper(strings.ReplaceAll(d.Name, ".", "_")) + "-SIM",
		"ldhName":         strings.ToUpper(d.Name),
		"entities":        []any{registrar},
	}
}

func vcard(entity map[string]any, fn, email string) map[string]any {
	props := []any{[]any{"version", map[string]any{}, "text", "4.0"}}
	if fn != "" {
		props = append(props, []any{"fn", map[string]any{}, "text", fn})
	}
	if email != "" {
		props = append(props, []any{"email", map[string]any{"pref": "1"}, "text", email})
	}
	out := make(map[string]any, len(entity)+1)
	for k, v := range entity {
		out[k] = v
	}
	out["vcardArray"] = []any{"vcard", props}
	return out
}

func cidr0(p netip.Prefix) map[string]any {
	if p.Addr().Is4() {
		return map[string]any{"v4prefix": p.Addr().String(), "length": p.Bits()}
	}
	return map[string]any{"v6prefix": p.Addr().String(), "length": p.Bits()}
}

// Load is what Populate generated: one /24 per network spread over the five
// RIRs, each below a /16 parent network (up to 256 children each) that
// announces them from its own AS, and .com domains, every second one with
// a registrar follow-up.
type Load struct {
	Networks []Network
	// Parents are the /16s above the networks; Autnums their AS numbers.
	Parents []Network
	Autnums []Autnum
	Domains []Domain
	// FollowUps is how many domains link to a registrar server.
	FollowUps int
}

// rirBlocks are /8s the IANA bootstrap assigns to each RIR, and the first
// of 256 AS numbers it assigns to the RIR too (clear of the fixtures').
var rirBlocks = []struct {
	registry string
	octet    byte
	country  string
	asn      uint32
}{{"ripe", 185, "NL", 12288}, {"arin", 23, "US", 1000}, {"apnic", 1, "JP", 9300}, {"lacnic", 177, "BR", 27648}, {"afrinic", 41, "ZA", 36900}}

// Populate generates networks and domains and loads them into the servers.
// ARIN children name their parent by parentHandle alone, as ARIN does; the
// others link to it.
func (s *Sim) Populate(networks, domains int) (Load, error) {
	var load Load
	for i := range networks {
		blk := rirBlocks[i%len(rirBlocks)]
		k := i / len(rirBlocks)
		if k >= 1<<16 {
			return load, fmt.Errorf("populate: %d networks exceed the address plan", networks)
		}
		srv := s.servers[blk.registry]
		up := netip.PrefixFrom(netip.AddrFrom4([4]byte{blk.octet, byte(k >> 8), 0, 0}), 16)
		upHandle := fmt.Sprintf("SIM-%s-UP-%d", strings.ToUpper(blk.registry), k>>8)
		asn := blk.asn + uint32(k>>8)
		if k&0xff == 0 {
			parent := Network{Prefix: up, Handle: upHandle, Country: blk.country, ASN: asn,
				AbuseEmail: fmt.Sprintf("abuse@up%d.%s.example", k>>8, blk.registry)}
			as := Autnum{ASN: asn, Name: upHandle, Country: blk.country, AbuseEmail: fmt.Sprintf("abuse@as%d.example", asn)}
			if err := srv.AddNetwork(parent); err != nil {
				return load, err
			}
			if err := srv.AddAutnum(as); err != nil {
				return load, err
			}
			load.Parents = append(load.Parents, parent)
			load.Autnums = append(load.Autnums, as)
		}
		n := Network{
			Prefix:     netip.PrefixFrom(netip.AddrFrom4([4]byte{blk.octet, byte(k >> 8), byte(k), 0}), 24),
			Handle:     fmt.Sprintf("SIM-%s-%d", strings.ToUpper(blk.registry), k),
			Country:    blk.country,
			AbuseEmail: fmt.Sprintf("abuse@net%d.%s.example", k, blk.registry),
			ASN:        asn,
		}
		if blk.registry == "arin" {
			n.ParentHandle = upHandle
		} else {
			n.Parent = up
		}
		if err := srv.AddNetwork(n); err != nil {
			return load, err
		}
		load.Networks = append(load.Networks, n)
	}
	registrars := []*Server{s.servers["markmonitor"], s.servers["registrar.eu"]}
	for i := range domains {
		d := Domain{
			Name:       fmt.Sprintf("sim%05d.com", i),
			Registrar:  fmt.Sprintf("Registrar %d", i%7),
			IANAID:     fmt.Sprintf("%d", 9000+i%7),
			AbuseEmail: fmt.Sprintf("abuse@registrar%d.example", i%7),
		}
		if i%2 == 0 {
			d.RegistrarServer = registrars[(i/2)%2]
			load.FollowUps++
		}
		if err := s.servers["verisign"].AddDomain(d); err != nil {
			return load, err
		}
		load.Domains = append(load.Domains, d)
	}
	return load, nil
}
