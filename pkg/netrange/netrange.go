// Package netrange says which IP addresses are public unicast: the one
// table of special-purpose ranges (RFC 6890 and friends) that the prober
// refuses to connect to at dial time, and that intake and enrichment call
// not actionable, since no hoster on the public internet can be told about
// material there. Keeping one table means a range the prober refuses can
// never reach the notice stage, and the reverse.
package netrange

import "net/netip"

// blockedV4 lists the IPv4 ranges that are not public unicast: RFC 6890
// special-purpose space plus multicast and reserved. IsPrivate and friends
// cover some of these too; listing them all keeps the policy in one place.
var blockedV4 = [...]struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared-cgnat"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "ietf-protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4-relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// IPv6 prefixes with special meaning. Outside 2000::/3 nothing is public
// unicast; inside it these are carved out or carry an IPv4 address that
// must itself be public.
var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64Well      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	ietfProto6     = netip.MustParsePrefix("2001::/23")
	documentation6 = netip.MustParsePrefix("2001:db8::/32")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	documentation3 = netip.MustParsePrefix("3fff::/20")
)

// Class returns "" when addr is public unicast, and otherwise the name of
// its class ("loopback", "private", "shared-cgnat", "documentation", …).
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it
// carries, and so are the NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms,
// because a connection to them reaches that IPv4 address; their class is
// then "embeds " and the class of the IPv4 address.
func Class(addr netip.Addr) string {
	if !addr.IsValid() {
		return "invalid"
	}
	if addr.Zone() != "" {
		return "zoned"
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return classV4(addr)
	}
	switch {
	case nat64Well.Contains(addr):
		return embedded(addr, 12)
	case nat64Local.Contains(addr):
		return "nat64-local"
	case !globalUnicast6.Contains(addr):
		return class6(addr)
	case documentation6.Contains(addr), documentation3.Contains(addr):
		return "documentation"
	case ietfProto6.Contains(addr):
		// Teredo, ORCHID, benchmarking and friends: none is a hoster.
		return "ietf-protocol"
	case sixToFour.Contains(addr):
		return embedded(addr, 2)
	}
	return ""
}

// Public reports whether addr is public unicast.
func Public(addr netip.Addr) bool { return Class(addr) == "" }

func classV4(addr netip.Addr) string {
	for _, b := range blockedV4 {
		if b.prefix.Contains(addr) {
			return b.class
		}
	}
	return ""
}

// embedded judges an IPv6 address by the IPv4 address it tunnels to, which
// starts at byte at.
func embedded(addr netip.Addr, at int) string {
	b := addr.As16()
	if c := classV4(netip.AddrFrom4([4]byte{b[at], b[at+1], b[at+2], b[at+3]})); c != "" {
		return "embeds " + c
	}
	return ""
}

// class6 names an IPv6 address outside global unicast.
func class6(addr netip.Addr) string {
	switch {
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsMulticast():
		return "multicast"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsPrivate():
		return "private"
	}
	return "not-global-unicast"
}
