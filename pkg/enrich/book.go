package enrich

import (
	"fmt"
	"net/netip"

	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// bookContacts are the contact book's say on a case: the contacts of the
// entry that applies, and the role they take.
type bookContacts struct {
	contacts []takedown.Contact
	// role is RoleHoster or RoleCDN; "" when no entry applies.
	role string
	// exclusive drops RDAP's contacts of the same role.
	exclusive bool
}

// fromBook looks the case up in the contact book. A domain entry names the
// site's operator, so its contacts are the hoster's; a network or AS entry
// names the operator of the addresses, so its contacts take the role the
// addresses' RDAP contacts have (the CDN's, when the addresses are a
// CDN's). The book's contacts go in front of RDAP's of the same role
// rather than replacing them (unless the entry is exclusive): the book is
// the hotline's knowledge and wins the first notice, but an entry can go
// stale unnoticed, and with RDAP's address behind it a bounce sends the
// notice on at once instead of parking the case in review.
func (e *Enricher) fromBook(enr *takedown.Enrichment, addrs []netip.Addr, asns []uint, networkRole string) bookContacts {
	if e.opts.Contacts == nil {
		return bookContacts{}
	}
	host := enr.Host
	if enr.IPLiteral {
		host = ""
	}
	m, ok := e.opts.Contacts.Lookup(host, addrs, asns)
	if !ok || len(m.Entry.Emails) == 0 {
		return bookContacts{}
	}
	role := networkRole
	if m.Kind == contactbook.KindDomain {
		role = RoleHoster
	}
	where := m.File
	if m.Entry.Line > 0 {
		where += fmt.Sprintf(" line %d", m.Entry.Line)
	}
	note := fmt.Sprintf("contact book: %s, matched by %s (%s)", m.Entry.Name, m.By, where)
	if m.Entry.Note != "" {
		note += "; " + m.Entry.Note
	}
	out := bookContacts{role: role, exclusive: m.Entry.Exclusive}
	for _, email := range m.Entry.Emails {
		out.contacts = append(out.contacts, takedown.Contact{
			Email: email, Name: m.Entry.Name, Role: role,
			Source:   takedown.Source{Kind: SourceContactBook, Handle: m.Entry.Name, Note: note},
			Language: m.Entry.Language, Channel: m.Entry.Channel, Webhook: m.Entry.Webhook,
			MachineReadable: m.Entry.MachineReadable,
		})
	}
	return out
}
