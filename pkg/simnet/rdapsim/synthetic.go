package rdapsim

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

// Network is a generated IP network, shaped like an ARIN answer: the abuse
// contact nested under the registrant organisation.
type Network struct {
	Prefix     netip.Prefix
	Handle     string
	Country    string
	AbuseEmail string
	// StubAbuse leaves the e-mail out of the nested abuse entity and serves
	// it only at /entity/<handle>-ABUSE, as some registries do.
	StubAbuse bool
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
		"name":            n.Handle,
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
// RIRs, and .com domains, every second one with a registrar follow-up.
type Load struct {
	Networks []Network
	Domains  []Domain
	// FollowUps is how many domains link to a registrar server.
	FollowUps int
}

// rirBlocks are /8s the IANA bootstrap assigns to each RIR.
var rirBlocks = []struct {
	registry string
	octet    byte
	country  string
}{{"ripe", 185, "NL"}, {"arin", 23, "US"}, {"apnic", 1, "JP"}, {"lacnic", 177, "BR"}, {"afrinic", 41, "ZA"}}

// Populate generates networks and domains and loads them into the servers.
func (s *Sim) Populate(networks, domains int) (Load, error) {
	var load Load
	for i := range networks {
		blk := rirBlocks[i%len(rirBlocks)]
		k := i / len(rirBlocks)
		if k >= 1<<16 {
			return load, fmt.Errorf("populate: %d networks exceed the address plan", networks)
		}
		n := Network{
			Prefix:     netip.PrefixFrom(netip.AddrFrom4([4]byte{blk.octet, byte(k >> 8), byte(k), 0}), 24),
			Handle:     fmt.Sprintf("SIM-%s-%d", strings.ToUpper(blk.registry), k),
			Country:    blk.country,
			AbuseEmail: fmt.Sprintf("abuse@net%d.%s.example", k, blk.registry),
		}
		if err := s.servers[blk.registry].AddNetwork(n); err != nil {
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
