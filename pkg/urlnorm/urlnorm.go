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
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
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
// so the key matches the host a person's browser would have fetched.
var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

// ErrNotHTTP is returned for URLs whose scheme is not http or https.
var ErrNotHTTP = errors.New("scheme is not http or https")

// Parse normalises raw, which must be an absolute http(s) URL.
func Parse(raw string) (URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return URL{}, fmt.Errorf("parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return URL{}, ErrNotHTTP
	}
	hostname := u.Hostname()
	if hostname == "" {
		return URL{}, errors.New("url has no host")
	}
	out := URL{Scheme: scheme, Port: u.Port()}
	if out.Port != "" {
		if out.Port == defaultPort(scheme) {
			out.Port = ""
		} else if p := strings.TrimLeft(out.Port, "0"); p != "" {
			out.Port = p
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(hostname, ".")); err == nil {
		ip = ip.WithZone("")
		if ip.Is4In6() {
			ip = ip.Unmap()
		}
		out.IP, out.Host, out.UnicodeHost = ip, ip.String(), ip.String()
	} else {
		host := strings.TrimSuffix(hostname, ".")
		ascii, err := profile.ToASCII(host)
		if err != nil {
			return URL{}, fmt.Errorf("convert host to punycode: %w", err)
		}
		ascii = strings.ToLower(ascii)
		if ascii == "" || strings.Contains(ascii, "..") || strings.ContainsAny(ascii, " /\\?#@[]%") {
			return URL{}, fmt.Errorf("url host %q is not a valid host name", host)
		}
		// A host that does not convert back is one no resolver would
		// find either (invalid UTF-8 turns into U+FFFD on the way in).
		uni, err := profile.ToUnicode(ascii)
		if err != nil {
			return URL{}, fmt.Errorf("url host %q is not a valid host name: %w", host, err)
		}
		out.Host, out.UnicodeHost = ascii, uni
		if d, err := publicsuffix.EffectiveTLDPlusOne(ascii); err == nil {
			out.Domain = d
		}
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
		out.String += "?" + u.RawQuery
	}
	return out, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// NotActionable says why no notice can reach whoever hosts this URL, or
// returns "" when one can. Tor and I2P hosts have no abuse contact;
// reserved names and private addresses are not on the public internet.
func (u URL) NotActionable() string {
	if u.IsIP() {
		ip := u.IP
		switch {
		case ip.IsLoopback(), ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsUnspecified(),
			ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
			return "address " + ip.String() + " is not a public address"
		}
		return ""
	}
	h := u.Host
	for _, tld := range []string{"onion", "i2p"} {
		if h == tld || strings.HasSuffix(h, "."+tld) {
			return "." + tld + " hidden service: no hoster can be told by notice"
		}
	}
	for _, tld := range []string{"localhost", "local", "internal", "invalid", "test", "home.arpa", "lan"} {
		if h == tld || strings.HasSuffix(h, "."+tld) {
			return "reserved name ." + tld + " is not on the public internet"
		}
	}
	if !strings.Contains(h, ".") {
		return "single-label host " + h + " is not on the public internet"
	}
	return ""
}
