// Package contactbook is the hotline's own contact book: abuse addresses
// it knows better than RDAP does (an abuse desk that answers where the
// registry names a NOC, a reseller's own desk, a machine-readable intake),
// per domain, network or AS number, as SCART's abuse-contact database
// keeps them. Enrichment puts a matching entry's addresses in front of the
// RDAP contacts of the same role.
//
// Exactly one entry applies to a case: the most specific match. A domain
// entry beats a network entry, which beats an AS entry; among domains the
// longest name, among networks the longest prefix wins. A domain names the
// operator of that site — the party that can remove what it serves even
// when its hosting is rented; a network (CIDR) names the one operator of
// that range; an AS announces many operators' networks, so it is the least
// telling.
package contactbook

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// Channels a contact can ask for.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Entry is one contact the hotline knows.
type Entry struct {
	// Name says who the contact is; cases show it as the source.
	Name string `yaml:"name"`
	// Domains are registrable domains or host names; each matches itself
	// and every name below it.
	Domains []string `yaml:"domains"`
	// Networks are CIDR prefixes; an address inside one matches.
	Networks []string `yaml:"networks"`
	// ASNs match an address announced by one of them (GeoIP).
	ASNs []uint `yaml:"asns"`
	// Emails are the addresses to send notices to, preferred first.
	Emails []string `yaml:"emails"`
	// Language is the language the contact reads ("nl", "en").
	Language string `yaml:"language"`
	// Channel is "email" (the default) or "webhook".
	Channel string `yaml:"channel"`
	// Webhook is the URL for channel webhook.
	Webhook string `yaml:"webhook"`
	// MachineReadable marks a contact whose intake parses X-ARF e-mail
	// transport.
	MachineReadable bool `yaml:"machine_readable"`
	// Exclusive drops the RDAP addresses of the same role: for a network
	// whose published address must not be told, or never answers.
	Exclusive bool `yaml:"exclusive"`
	// Note says why the entry exists; it goes into the contact's source.
	Note string `yaml:"note"`

	// Line is where the entry starts in its file.
	Line int `yaml:"-"`
}

// Match is the entry that applies to a case and what matched it.
type Match struct {
	Entry Entry
	// By is "domain:example.nl", "network:192.0.2.0/24" or "asn:64500".
	By string
	// Kind is the kind of match: KindDomain, KindNetwork or KindASN.
	Kind string
	// File is the book's file.
	File string
}

// Kinds of match, most specific first.
const (
	KindDomain  = "domain"
	KindNetwork = "network"
	KindASN     = "asn"
)

// Book is a parsed contact book. It is read-only and safe for concurrent
// use.
type Book struct {
	// File is where the book was read from, for the contacts' source.
	File     string
	entries  []Entry
	domains  map[string]int
	networks []claim
	asns     map[uint]int
}

type claim struct {
	prefix netip.Prefix
	entry  int
}

// Len is the number of entries.
func (b *Book) Len() int {
	if b == nil {
		return 0
	}
	return len(b.entries)
}

// Entries returns the entries in file order.
func (b *Book) Entries() []Entry { return slices.Clone(b.entries) }

// Load reads the book at path. A missing file is an empty book when
// optional is set (the default path, which a hotline need not use), and
// an error otherwise (a path the configuration names).
func Load(path string, optional bool) (*Book, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && optional {
		return &Book{File: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read contact book: %w", err)
	}
	return Parse(data, path)
}

// Lookup returns the entry for a case: host is the URL's host (empty for
// an IP literal), addrs its addresses and asns their origin ASNs, both in
// answer order.
func (b *Book) Lookup(host string, addrs []netip.Addr, asns []uint) (Match, bool) {
	if b.Len() == 0 {
		return Match{}, false
	}
	if host = strings.TrimSuffix(strings.ToLower(host), "."); host != "" {
		for name := host; ; {
			if i, ok := b.domains[name]; ok {
				return Match{Entry: b.entries[i], By: KindDomain + ":" + name, Kind: KindDomain, File: b.File}, true
			}
			dot := strings.IndexByte(name, '.')
			if dot < 0 {
				break
			}
			name = name[dot+1:]
		}
	}
	best := -1
	for _, a := range addrs {
		a = a.Unmap()
		for i, c := range b.networks {
			if c.prefix.Contains(a) && (best < 0 || c.prefix.Bits() > b.networks[best].prefix.Bits()) {
				best = i
			}
		}
	}
	if best >= 0 {
		c := b.networks[best]
		return Match{Entry: b.entries[c.entry], By: KindNetwork + ":" + c.prefix.String(), Kind: KindNetwork, File: b.File}, true
	}
	for _, asn := range asns {
		if i, ok := b.asns[asn]; ok {
			return Match{Entry: b.entries[i], By: fmt.Sprintf("%s:%d", KindASN, asn), Kind: KindASN, File: b.File}, true
		}
	}
	return Match{}, false
}
