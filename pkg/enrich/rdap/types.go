// Package rdap finds who runs an IP network or a domain, and whom to tell
// about abuse there, by asking the RDAP servers of the registries (RFC 9082,
// RFC 9083). It is built on github.com/openrdap/rdap for bootstrap and
// decoding and adds what a daemon that asks thousands of questions needs:
// politeness per server, retries that respect 429 and Retry-After, merged
// concurrent lookups, a cache shared by replicas, and abuse-contact
// extraction that copes with the registries' old and odd answers. Every
// contact it returns says where it came from, because the audit must say why
// we mailed whom.
package rdap

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Contact is one e-mail address to send abuse notices to, with its source.
type Contact struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// Handle is the entity's handle; empty for remarks and some registrars.
	Handle string `json:"handle,omitempty"`
	// Object is the handle of the network or domain the contact hangs off.
	Object string `json:"object,omitempty"`
	// Path is the chain of roles from the object down to the contact,
	// e.g. ["registrant", "abuse"].
	Path []string `json:"path,omitempty"`
	// Server is the host of the RDAP server that gave the answer.
	Server string `json:"server"`
	// Kind says how the address was found: KindEntity, KindEntitySelf,
	// KindRemarks, KindHeuristic, or for registrars KindTechnical and
	// KindOwnVCard.
	Kind string `json:"kind"`
	// Pref is 1 when the vCard marked the address preferred (pref=1 or
	// type=abuse), 0 otherwise.
	Pref int `json:"pref,omitempty"`
}

// Contact kinds, from most to least trustworthy.
const (
	// KindEntity is the e-mail of an entity with role abuse.
	KindEntity = "entity"
	// KindEntitySelf is the e-mail of an abuse entity that the answer only
	// referred to (a stub) and that was fetched by its self link.
	KindEntitySelf = "entity-self"
	// KindRemarks is an address found in the free-text remarks, as old
	// AFRINIC and APNIC answers carry it.
	KindRemarks = "remarks"
	// KindHeuristic is an address of a non-abuse entity whose local part
	// starts with "abuse", used when nothing better exists.
	KindHeuristic = "heuristic"
	// KindTechnical is the e-mail of an entity with role technical below
	// a registrar that names no abuse entity.
	KindTechnical = "technical"
	// KindOwnVCard is the e-mail in the registrar entity's own vCard, used
	// when it names neither an abuse nor a technical entity (Norid): its
	// general address, not an abuse desk.
	KindOwnVCard = "vcard"
)

// kindRank orders contacts of different kinds, most trustworthy first, when
// answers from two servers are merged.
func kindRank(kind string) int {
	switch kind {
	case KindEntity, KindEntitySelf:
		return 0
	case KindRemarks:
		return 1
	case KindHeuristic:
		return 2
	case KindTechnical:
		return 3
	default:
		return 4
	}
}

// Network is the RDAP answer for an IP address.
type Network struct {
	Handle  string `json:"handle"`
	Name    string `json:"name,omitempty"`
	Type    string `json:"type,omitempty"`
	Country string `json:"country,omitempty"`
	// Parent is the parentHandle the server gave, if any.
	Parent string `json:"parent,omitempty"`
	// ParentPrefix is the prefix the answer's rel "up" link names (APNIC
	// style), the most precise way to ask for the parent network; empty
	// when the answer has no such link.
	ParentPrefix string `json:"parent_prefix,omitempty"`
	// Start and End are the range as the server gave it, normalised
	// (zero padding and "/32" suffixes removed).
	Start string `json:"start"`
	End   string `json:"end"`
	// CIDRs are the prefixes the answer covers (from cidr0_cidrs or the
	// range); the cache stores the answer under each.
	CIDRs []string `json:"cidrs,omitempty"`
	// AddressOnly is set when the server answered with start = end = the
	// queried address (old LACNIC): the answer says nothing about the
	// neighbours, so it is cached for that address alone.
	AddressOnly bool      `json:"address_only,omitempty"`
	Server      string    `json:"server"`
	Contacts    []Contact `json:"contacts,omitempty"`
	FetchedAt   time.Time `json:"fetched_at"`
}

// Contains reports whether addr lies in one of the network's CIDRs.
func (n *Network) Contains(addr netip.Addr) bool {
	for _, c := range n.CIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// Autnum is the RDAP answer for an autonomous system number: who runs
// the network that announces an address, the level above the hoster.
type Autnum struct {
	// ASN is the number asked for; Start and End the block that answered.
	ASN      uint32    `json:"asn"`
	Handle   string    `json:"handle"`
	Name     string    `json:"name,omitempty"`
	Country  string    `json:"country,omitempty"`
	Start    uint32    `json:"start,omitempty"`
	End      uint32    `json:"end,omitempty"`
	Server   string    `json:"server"`
	Contacts []Contact `json:"contacts,omitempty"`
	// FetchedAt is when the server answered.
	FetchedAt time.Time `json:"fetched_at"`
}

// Registrar is the sponsoring registrar of a domain.
type Registrar struct {
	Name   string `json:"name,omitempty"`
	Handle string `json:"handle,omitempty"`
	// IANAID is the IANA Registrar ID from publicIds (or a numeric handle,
	// which gTLD registries use for it).
	IANAID string `json:"iana_id,omitempty"`
	// Server is the registrar's own RDAP server when the registry linked
	// to it and it answered.
	Server   string    `json:"server,omitempty"`
	Contacts []Contact `json:"contacts,omitempty"`
}

// Domain is the RDAP answer for a registrable domain.
type Domain struct {
	Name      string     `json:"name"`
	Handle    string     `json:"handle,omitempty"`
	Server    string     `json:"server"`
	Registrar *Registrar `json:"registrar,omitempty"`
	// Contacts are abuse contacts of the domain itself, outside the
	// registrar entity (rare; registrants seldom publish one).
	Contacts  []Contact `json:"contacts,omitempty"`
	FetchedAt time.Time `json:"fetched_at"`
}

// ErrNotFound means the server has no object for the query (HTTP 404 or an
// RDAP error 404). It is an answer, not a failure: do not retry.
var ErrNotFound = errors.New("no rdap data")

// ErrNoParent means a network answer names no parent network (or only
// the whole address space), so there is nothing to ask. It matches
// ErrNotFound too.
var ErrNoParent = fmt.Errorf("network names no parent: %w", ErrNotFound)

// Error is a lookup failure with its classification.
type Error struct {
	// Server is the host that failed (never a full URL: it would name the
	// queried domain or address).
	Server string
	// Status is the HTTP status, 0 for transport errors.
	Status int
	// Retryable is true when asking again later may succeed (429, 5xx,
	// timeouts, refused connections).
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("rdap %s: status %d: %v", e.Server, e.Status, e.Err)
	}
	return fmt.Sprintf("rdap %s: %v", e.Server, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying later.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}
