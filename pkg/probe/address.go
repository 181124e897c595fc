package probe

import (
	"fmt"
	"net/netip"
)

// AddressError reports that the prober refused to connect to an address
// because it is not public unicast. It is a refusal of ours, never a
// statement about the material: a hoster must not be able to close a case by
// pointing its DNS at 127.0.0.1, so the verdict is inconclusive.
type AddressError struct {
	// Addr is the refused address, unmapped.
	Addr netip.Addr
	// Why names the address class, e.g. "loopback" or "private".
	Why string
}

// Error implements error.
func (e *AddressError) Error() string {
	return fmt.Sprintf("refuse address %s: %s", e.Addr, e.Why)
}

// blockedV4 lists the IPv4 ranges that are not public unicast: RFC 6890
// special-purpose space plus multicast and reserved. IsPrivate and friends
// cover some of these too; listing them all keeps the policy in one place.
var blockedV4 = [...]struct {
	prefix netip.Prefix
	why    string
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

// CheckAddr returns nil when addr is public unicast and an *AddressError
// naming its class otherwise. IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged
// as the IPv4 address it carries, and so are the NAT64 (64:ff9b::/96) and
// 6to4 (2002::/16) forms, because a dial to them reaches that IPv4 address.
func CheckAddr(addr netip.Addr) error {
	if !addr.IsValid() {
		return &AddressError{Addr: addr, Why: "invalid"}
	}
	if addr.Zone() != "" {
		return &AddressError{Addr: addr, Why: "zoned"}
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return checkV4(addr)
	}
	switch {
	case nat64Well.Contains(addr):
		return checkEmbedded(addr, embeddedV4(addr, 12))
	case nat64Local.Contains(addr):
		return &AddressError{Addr: addr, Why: "nat64-local"}
	case !globalUnicast6.Contains(addr):
		return &AddressError{Addr: addr, Why: class6(addr)}
	case documentation6.Contains(addr), documentation3.Contains(addr):
		return &AddressError{Addr: addr, Why: "documentation"}
	case ietfProto6.Contains(addr):
		// Teredo, ORCHID, benchmarking and friends: none is a hoster.
		return &AddressError{Addr: addr, Why: "ietf-protocol"}
	case sixToFour.Contains(addr):
		return checkEmbedded(addr, embeddedV4(addr, 2))
	}
	return nil
}

func checkV4(addr netip.Addr) error {
	for _, b := range blockedV4 {
		if b.prefix.Contains(addr) {
			return &AddressError{Addr: addr, Why: b.why}
		}
	}
	return nil
}

// checkEmbedded judges an IPv6 address by the IPv4 address it tunnels to,
// keeping the outer address in the error so the log shows what was dialled.
func checkEmbedded(outer, inner netip.Addr) error {
	if err := checkV4(inner); err != nil {
		return &AddressError{Addr: outer, Why: "embeds " + err.(*AddressError).Why}
	}
	return nil
}

func embeddedV4(addr netip.Addr, at int) netip.Addr {
	b := addr.As16()
	return netip.AddrFrom4([4]byte{b[at], b[at+1], b[at+2], b[at+3]})
}

// class6 names an IPv6 address outside global unicast for the error.
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
