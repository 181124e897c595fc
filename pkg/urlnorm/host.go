package urlnorm

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/takedownd/takedownd/pkg/netrange"
)

// setHost fills in the host fields from the URL's host name (brackets and
// port already removed).
func (out *URL) setHost(hostname string) error {
	if strings.Contains(hostname, ":") {
		ip, err := netip.ParseAddr(hostname)
		if err != nil || !ip.Is6() {
			return fmt.Errorf("url host %q is not a valid IPv6 address", hostname)
		}
		// A zone names an interface of the sender's machine: meaningless
		// for a hoster, and not part of the key.
		out.setIP(ip.WithZone(""))
		return nil
	}
	// One trailing dot names the same host (the DNS root); the name is
	// judged without it.
	host := strings.TrimSuffix(hostname, ".")
	if host == "" || strings.HasSuffix(host, ".") {
		// The IDNA profile lets a second root label through.
		return fmt.Errorf("url host %q is not a valid host name: empty label", hostname)
	}
	ascii, err := profile.ToASCII(host)
	if err != nil {
		return fmt.Errorf("url host %q is not a valid host name: %w", host, err)
	}
	ascii = strings.ToLower(ascii)
	// As in browsers, the number test comes after the mapping: "²" is "2".
	if ip, isIP, err := parseIPv4(ascii); isIP {
		if err != nil {
			return err
		}
		out.setIP(ip)
		return nil
	}
	if strings.ContainsAny(ascii, " /\\?#@[]%:") {
		return fmt.Errorf("url host %q is not a valid host name", host)
	}
	// A host that does not convert back is one no resolver would find
	// either (invalid UTF-8 turns into U+FFFD on the way in).
	uni, err := profile.ToUnicode(ascii)
	if err != nil {
		return fmt.Errorf("url host %q is not a valid host name: %w", host, err)
	}
	out.Host, out.UnicodeHost = ascii, uni
	if d, err := publicsuffix.EffectiveTLDPlusOne(ascii); err == nil {
		out.Domain = d
	}
	return nil
}

func (out *URL) setIP(ip netip.Addr) {
	ip = ip.Unmap()
	out.IP, out.Host, out.UnicodeHost = ip, ip.String(), ip.String()
}

// parseIPv4 reads host as browsers do (the WHATWG URL standard): a host
// whose last label is a number is an IPv4 address, in any of the forms
// "127.0.0.1", "127.1", "0x7f.1", "0177.0.0.1" or "2130706433", or it is
// no host at all. Reading it as a name instead would key the same address
// under many spellings, and let "http://2130706433/" pass as a host name
// although every browser fetches 127.0.0.1. isIP reports whether host ends
// in a number; err says why such a host is not an address.
func parseIPv4(host string) (ip netip.Addr, isIP bool, err error) {
	parts := strings.Split(host, ".")
	if !isNumberLabel(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil
	}
	bad := fmt.Errorf("url host %q ends in a number but is not an IPv4 address", host)
	if len(parts) > 4 {
		return netip.Addr{}, true, bad
	}
	var v uint64
	for i, p := range parts {
		n, ok := ipv4Number(p)
		last := i == len(parts)-1
		switch {
		case !ok:
			return netip.Addr{}, true, bad
		case !last && n > 255:
			return netip.Addr{}, true, bad
		case last && n >= 1<<(8*(5-len(parts))):
			return netip.Addr{}, true, bad
		case last:
			v += n
		default:
			v += n << (8 * (3 - i))
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, nil
}

// isNumberLabel reports whether a label "ends in a number" in the WHATWG
// sense: decimal digits, or 0x followed by hex digits.
func isNumberLabel(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strings.Trim(s[2:], "0123456789abcdefABCDEF") == ""
	}
	return strings.Trim(s, "0123456789") == ""
}

// ipv4Number parses one part of an IPv4 host: 0x… is hexadecimal, a
// leading 0 octal, anything else decimal.
func ipv4Number(s string) (uint64, bool) {
	base := 10
	switch {
	case s == "":
		return 0, false
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true
		}
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

// NotActionable says why no notice can reach whoever hosts this URL, or
// returns "" when one can. Tor and I2P hosts have no abuse contact;
// reserved names and addresses outside public unicast (netrange, the table
// the prober refuses) are not on the public internet.
func (u URL) NotActionable() string {
	if u.IsIP() {
		if class := netrange.Class(u.IP); class != "" {
			return "address " + u.IP.String() + " is " + class + " space, not a public address"
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
