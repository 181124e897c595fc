// Package urlnorm turns a reported URL into the one canonical form that
// identifies a case: the same material reported as "HTTP://Bücher.example:80/a"
// and "http://xn--bcher-kva.example/a" must land in the same case.
package urlnorm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// URL is a normalised URL and what follows from its host.
type URL struct {
	// String is the canonical URL: lowercase scheme and ASCII host, no
	// default port, no fragment, no user info, path at least "/".
	String string
	Scheme string
	// Host is the ASCII (punycode) host without port; IPv6 without brackets.
	Host string
	// UnicodeHost is Host as a person reads it.
	UnicodeHost string
	Port        string
	// Domain is the registrable domain (eTLD+1) from the public-suffix
	// list; empty for IP literals and hosts that are a public suffix.
	Domain string
	// IP is set when the host is an IP literal.
	IP netip.Addr
}

// Key is a fixed-length digest of the canonical URL, usable as a KV key
// and safe to log where the URL itself is not.
func (u URL) Key() string { return KeyOf(u.String) }

// KeyOf is the digest Key uses, for callers that hold only the string.
func KeyOf(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:16])
}

// IsIP reports whether the host is an IP literal.
func (u URL) IsIP() bool { return u.IP.IsValid() }

// profile converts hosts as browsers do (UTS #46 non-transitional lookup),
// so the key matches the host a person's browser would have fetched. DNS
// length rules apply: no empty label, none over 63 octets, the name at most
// 253, since a name outside them cannot be resolved (and "http://./" would
// be a key no URL parses back to).
var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(), idna.VerifyDNSLength(true))

// ErrNotHTTP is returned for URLs whose scheme is not http or https.
var ErrNotHTTP = errors.New("scheme is not http or https")

// Parse normalises raw, which must be an absolute http(s) URL. It accepts
// only what it can write back in a canonical form that parses to itself:
// normalising String again gives String.
func Parse(raw string) (URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return URL{}, fmt.Errorf("parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return URL{}, ErrNotHTTP
	}
	if u.Opaque != "" {
		return URL{}, errors.New("url is not hierarchical (no // after the scheme)")
	}
	hostname := u.Hostname()
	if hostname == "" {
		return URL{}, errors.New("url has no host")
	}
	out := URL{Scheme: scheme}
	if out.Port, err = canonicalPort(u.Port(), scheme); err != nil {
		return URL{}, err
	}
	if err := out.setHost(hostname); err != nil {
		return URL{}, err
	}
	hostport := out.Host
	if out.IP.Is6() {
		hostport = "[" + out.Host + "]"
	}
	if out.Port != "" {
		hostport = net.JoinHostPort(out.Host, out.Port)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	// The path is kept escaped as given: re-encoding it could turn two
	// different resources into one key.
	out.String = scheme + "://" + hostport + path
	if u.RawQuery != "" {
		out.String += "?" + canonicalQuery(u.RawQuery)
	}
	return out, nil
}

// canonicalQuery percent-encodes what a browser encodes before it sends a
// query (the WHATWG special-query set: controls, space, ", #, ', <, > and
// every byte outside ASCII), so the key is the query the hoster receives
// and the canonical form is plain ASCII. Escapes already there are kept as
// they are: decoding one could merge two different queries.
func canonicalQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#'<>", c) >= 0 {
			if b.Len() == 0 {
				b.Grow(len(q) + 8)
				b.WriteString(q[:i])
			}
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return q
	}
	return b.String()
}

// canonicalPort returns the port as the canonical form writes it: "" for
// none or the scheme's default, otherwise the number without leading zeros.
func canonicalPort(port, scheme string) (string, error) {
	if port == "" {
		return "", nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("url port %s is outside 1-65535", port)
	}
	if p := strconv.Itoa(n); p != defaultPort(scheme) {
		return p, nil
	}
	return "", nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}
