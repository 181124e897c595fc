package stats

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// The keys the statistics join on. Retention keeps exactly these on an
// anonymised case (takedown.Anonymised), so the figures stay the same
// after the URL and the contacts are gone.

// HosterKey is the key a case is counted under in GET /v1/hosters: the
// registrable domain of the abuse address of the party that hosts the
// material — the hoster's first abuse contact, or the CDN's when a CDN
// fronts the site (the CDN is then the one asked to act) — such as
// "leaseweb.com" for abuse@nl.leaseweb.com. An abuse desk is what a
// hotline deals with and waits for: one desk answers for every network
// and AS of its company, which an ASN or a network handle would split, and
// a network sublet to a reseller with its own desk is told apart. Where
// no contact is known the key is the AS ("AS64500") and then "unknown".
// An anonymised case keeps the key it had.
func HosterKey(c *takedown.Case) string {
	if a := c.Anonymised; a != nil {
		return orUnknown(a.Hoster)
	}
	e := c.Enrichment
	if e == nil {
		return "unknown"
	}
	if e.CDN != nil && e.CDN.Contact != nil && !routedPast(c) {
		if d := MailDomain(e.CDN.Contact.Email); d != "" {
			return Organisation(d)
		}
	}
	for _, role := range []string{"hoster", "cdn"} {
		for _, ct := range e.Contacts {
			if d := MailDomain(ct.Email); ct.Role == role && d != "" {
				return Organisation(d)
			}
		}
	}
	for _, a := range e.Addresses {
		if a.ASN != 0 {
			return "AS" + strconv.FormatUint(uint64(a.ASN), 10)
		}
	}
	return "unknown"
}

// routedPast reports whether routing noticed the site's operator directly
// although a CDN fronts it (the contact book names the operator): then the
// hoster is that operator, not the CDN.
func routedPast(c *takedown.Case) bool {
	return c.Routing != nil && c.Routing.Kind == takedown.RouteHoster
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// MailDomain is the lower-cased domain of an e-mail address, or "".
func MailDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// Organisation is the registrable domain of a mail domain (the public
// suffix list's eTLD+1), or the domain itself when it has none.
func Organisation(domain string) string {
	if d, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil {
		return d
	}
	return domain
}

// URLHasher hashes URLs (and contact addresses) with the retention secret:
// HMAC-SHA256, so the same URL always gives the same hash and nobody
// without the secret can test a guess against it.
type URLHasher struct{ key []byte }

// NewURLHasher returns a hasher under key.
func NewURLHasher(key []byte) *URLHasher { return &URLHasher{key: append([]byte(nil), key...)} }

// Sum is the hex HMAC-SHA256 of s.
func (h *URLHasher) Sum(s string) string {
	return hex.EncodeToString(h.mac(s))
}

func (h *URLHasher) mac(s string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// short is the first 8 bytes of the hash of s, what the summaries keep to
// tell URLs apart (a collision among a million URLs has odds of 1 in 3·10⁷).
func (h *URLHasher) short(s string) uint64 {
	return binary.BigEndian.Uint64(h.mac(s))
}

// shortOfHex is short for a hash already in hex (an anonymised case's).
func shortOfHex(s string) uint64 {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// crockford is the alphabet of case ids (store.CaseID).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// caseKey is a case id packed into 10 bytes: its 16 base32 digits are 80
// bits. Keys sort as their ids do (received order).
type caseKey [10]byte

func keyOf(id string) (caseKey, bool) {
	var k caseKey
	if len(id) != 16 {
		return k, false
	}
	var hi uint64 // the first 8 digits: 40 bits
	var lo uint64 // the last 8: 40 bits
	for i := range 16 {
		d := strings.IndexByte(crockford, id[i])
		if d < 0 {
			return k, false
		}
		if i < 8 {
			hi = hi<<5 | uint64(d)
		} else {
			lo = lo<<5 | uint64(d)
		}
	}
	for i := range 5 {
		k[4-i] = byte(hi >> (8 * i))
		k[9-i] = byte(lo >> (8 * i))
	}
	return k, true
}

// String is the case id.
func (k caseKey) String() string {
	var hi, lo uint64
	for i := range 5 {
		hi = hi<<8 | uint64(k[i])
		lo = lo<<8 | uint64(k[5+i])
	}
	b := make([]byte, 16)
	for i := 7; i >= 0; i-- {
		b[i] = crockford[hi&31]
		b[8+i] = crockford[lo&31]
		hi >>= 5
		lo >>= 5
	}
	return string(b)
}
