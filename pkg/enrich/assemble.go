package enrich

import (
	"fmt"
	"strings"

	"github.com/takedownd/takedownd/pkg/enrich/cdn"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// Contact roles set here; routing reads them.
const (
	RoleHoster    = "hoster"
	RoleCDN       = "cdn"
	RoleRegistrar = "registrar"
	// RoleOwner is an abuse contact the domain itself publishes, outside
	// the registrar (rare): the site owner SCART adds at 3× the interval.
	RoleOwner = "owner"
)

// Source kinds set here (takedown.Source.Kind).
const (
	SourceRDAPIP        = "rdap_ip"
	SourceRDAPDomain    = "rdap_domain"
	SourceRDAPRegistrar = "rdap_registrar"
	SourceCDNList       = "cdn_list"
	SourceContactBook   = takedown.SourceContactBook
)

// assemble turns the lookups into the enrichment: addresses, networks,
// CDN, contacts in order of preference, registrar and country.
func (e *Enricher) assemble(enr *takedown.Enrichment, l *lookups) {
	ev := cdn.Evidence{CNAMEs: enr.CNAMEs}
	seen := map[string]bool{}
	for i, a := range l.addrs {
		g, n := l.geo[i], l.nets[i]
		info := takedown.AddressInfo{IP: a.String(), Country: strings.ToUpper(g.Country), ASN: g.ASN, ASName: g.ASOrg}
		if g.ASN != 0 {
			ev.ASNs = append(ev.ASNs, g.ASN)
		}
		if n != nil {
			info.Network = n.Handle
			ev.Networks = append(ev.Networks, cdn.Network{Handle: n.Handle, Name: n.Name})
			if key := n.Handle + "|" + n.Start + "|" + n.End; !seen[key] {
				seen[key] = true
				enr.Networks = append(enr.Networks, networkOf(n))
			}
		}
		enr.Addresses = append(enr.Addresses, info)
	}
	var cs contacts
	networkRole := RoleHoster
	m, behindCDN := e.opts.CDN.Match(ev)
	var listed *takedown.Contact // the CDN list's address
	if behindCDN {
		enr.CDN = cdnOf(m)
		listed = enr.CDN.Contact
		// The addresses are the CDN's, so their networks' abuse contacts
		// are the CDN's too.
		networkRole = RoleCDN
	}
	book := e.fromBook(enr, l.addrs, ev.ASNs, networkRole)
	if behindCDN {
		if book.role == RoleCDN {
			// The hotline's own address for this CDN is more specific
			// than the list's, which stays behind it.
			enr.CDN.Contact = &book.contacts[0]
			cs.add(book.contacts...)
		}
		if listed != nil {
			cs.add(*listed)
		} else if book.role != RoleCDN {
			enr.Problems = append(enr.Problems, fmt.Sprintf("cdn %s lists no abuse address (form: %s)", m.Provider.Name, m.Provider.AbuseForm))
		}
	}
	if book.role == RoleHoster {
		cs.add(book.contacts...)
	}
	for _, n := range l.nets {
		if n == nil || (book.exclusive && book.role == networkRole) {
			continue
		}
		for _, c := range n.Contacts {
			cs.add(contactOf(c, networkRole, SourceRDAPIP))
		}
	}
	if d := l.domain; d != nil {
		for _, c := range d.Contacts {
			cs.add(contactOf(c, RoleOwner, SourceRDAPDomain))
		}
		if d.Registrar != nil {
			enr.Registrar = registrarOf(d)
			for _, c := range d.Registrar.Contacts {
				cs.add(contactOf(c, RoleRegistrar, registrarKind(d, c)))
			}
		}
	}
	enr.Contacts = cs.list
	enr.Country = decideCountry(e.opts.CountryRule, enr.Addresses, enr.Networks)
	if enr.CDN != nil && enr.CDN.OriginUnknown {
		enr.Country.Note = strings.TrimPrefix(enr.Country.Note+"; addresses belong to CDN "+enr.CDN.Name+", the origin's country is unknown", "; ")
	}
}

func networkOf(n *rdap.Network) takedown.Network {
	return takedown.Network{
		Handle: n.Handle, Name: n.Name, Start: n.Start, End: n.End, CIDRs: n.CIDRs,
		Country: strings.ToUpper(n.Country), Parent: n.Parent,
		Source: takedown.Source{Kind: SourceRDAPIP, Server: n.Server, Handle: n.Handle},
	}
}

// cdnOf records a recognised provider. Every match means the addresses
// are the CDN's and the origin is unknown: the list holds ASNs only where
// they carry nothing but the CDN, and a CNAME or RDAP network names the
// CDN's edge itself. (A mixed cloud ASN alone is no match at all, so such
// a host is routed to its network's RDAP abuse contact as its hoster.)
func cdnOf(m cdn.Match) *takedown.CDN {
	p := m.Provider
	c := &takedown.CDN{Name: p.Name, MatchedBy: m.MatchedBy, OriginUnknown: true}
	if p.Abuse != "" {
		c.Contact = &takedown.Contact{Email: p.Abuse, Name: p.Name, Role: RoleCDN,
			Source: takedown.Source{Kind: SourceCDNList, Handle: p.Name, Note: "matched by " + m.MatchedBy + "; list source: " + p.Source}}
	}
	return c
}

func registrarOf(d *rdap.Domain) *takedown.Registrar {
	r := d.Registrar
	out := &takedown.Registrar{Name: r.Name, IANAID: r.IANAID,
		Source: takedown.Source{Kind: SourceRDAPDomain, Server: d.Server, Handle: d.Handle}}
	if r.Server != "" {
		out.Source = takedown.Source{Kind: SourceRDAPRegistrar, Server: r.Server, Handle: r.Handle, Note: "registry " + d.Server}
	}
	if len(r.Contacts) > 0 {
		c := contactOf(r.Contacts[0], RoleRegistrar, registrarKind(d, r.Contacts[0]))
		out.Abuse = &c
	}
	return out
}

// registrarKind tells whether a registrar contact came from the
// registrar's own server or from the registry's answer.
func registrarKind(d *rdap.Domain, c rdap.Contact) string {
	if d.Registrar != nil && d.Registrar.Server != "" && c.Server == d.Registrar.Server {
		return SourceRDAPRegistrar
	}
	return SourceRDAPDomain
}

// contactOf keeps the contact's provenance: the server, the object the
// contact hangs off and the roles that led to it; the entity's handle and
// how the address was found go into the note.
func contactOf(c rdap.Contact, role, kind string) takedown.Contact {
	note := "found as " + c.Kind
	switch c.Kind {
	case rdap.KindOwnVCard:
		note += " (the registrar's own address: it names no abuse or technical contact)"
	case rdap.KindTechnical:
		note += " (the registrar names no abuse contact)"
	}
	if c.Handle != "" {
		note = "entity " + c.Handle + ", " + note
	}
	if c.Pref == 1 {
		note += ", preferred"
	}
	return takedown.Contact{Email: c.Email, Name: c.Name, Role: role,
		Source: takedown.Source{Kind: kind, Server: c.Server, Handle: c.Object, Path: c.Path, Note: note}}
}

// contacts is an ordered list without an address repeated in one role: the
// first (most preferred) source stands. The same address in two roles (a
// registrar that also hosts) stays twice, since escalation treats the
// roles differently.
type contacts struct {
	list []takedown.Contact
	seen map[string]bool
}

func (cs *contacts) add(list ...takedown.Contact) {
	for _, c := range list {
		key := c.Role + "|" + strings.ToLower(c.Email)
		if c.Email == "" || cs.seen[key] {
			continue
		}
		if cs.seen == nil {
			cs.seen = map[string]bool{}
		}
		cs.seen[key] = true
		cs.list = append(cs.list, c)
	}
}
