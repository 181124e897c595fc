// Package verp puts a notice's reference into the envelope sender of its
// mail (variable envelope return path), so that a bounce finds its notice
// even when it returns nothing of the original: abuse@hotline.example
// sends notice TD-20261126-7F3K2Q from
// abuse+bounce-TD-20261126-7F3K2Q-<tag>@hotline.example. The tag is a
// keyed MAC of the reference, so only the daemon can make an address that
// verifies; notify makes them, inbound checks them.
package verp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/takedownd/takedownd/pkg/keyfile"
)

// prefix starts the plus part of a VERP address.
const prefix = "bounce-"

// tagLen is the tag's length in hex digits: 48 bits, enough that a forger
// cannot guess one, short enough for any MTA's local-part limit.
const tagLen = 12

// Signer makes and checks VERP addresses for one sender address.
type Signer struct {
	key           []byte
	local, domain string
}

// New returns a Signer for the sender from (notify.from) and a secret of
// at least 16 bytes.
func New(from string, key []byte) (*Signer, error) {
	local, domain, ok := strings.Cut(from, "@")
	if !ok || local == "" || domain == "" {
		return nil, fmt.Errorf("new verp signer: sender %q is no address", from)
	}
	if len(key) < 16 {
		return nil, errors.New("new verp signer: secret shorter than 16 bytes")
	}
	return &Signer{key: key, local: local, domain: strings.ToLower(domain)}, nil
}

// Address returns the envelope sender for the notice ref.
func (s *Signer) Address(ref string) string {
	ref = strings.ToUpper(ref)
	return s.local + "+" + prefix + ref + "-" + s.tag(ref) + "@" + s.domain
}

func (s *Signer) tag(ref string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.ToUpper(ref)))
	return hex.EncodeToString(m.Sum(nil))[:tagLen]
}

// Parse reads addr as a VERP address of this sender. isVERP says whether
// it has the shape (our local part, "+bounce-", a tag, our domain); ref
// is the reference and ok whether the tag verifies. Case does not
// matter: MTAs lower-case addresses.
func (s *Signer) Parse(addr string) (ref string, ok, isVERP bool) {
	local, domain, found := strings.Cut(addr, "@")
	if !found || !strings.EqualFold(domain, s.domain) {
		return "", false, false
	}
	base, plus, found := strings.Cut(local, "+")
	if !found || !strings.EqualFold(base, s.local) || len(plus) < len(prefix) || !strings.EqualFold(plus[:len(prefix)], prefix) {
		return "", false, false
	}
	rest := plus[len(prefix):]
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false, true
	}
	ref, tag := strings.ToUpper(rest[:i]), strings.ToLower(rest[i+1:])
	return ref, hmac.Equal([]byte(tag), []byte(s.tag(ref))), true
}

// LoadKey reads the secret from path, or creates it there (32 random
// bytes, hex, readable by the owner only) when the file does not exist
// yet. created says which.
func LoadKey(path string) (key []byte, created bool, err error) {
	return keyfile.Load(path, "verp secret")
}
