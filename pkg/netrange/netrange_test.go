package netrange

import (
	"net/netip"
	"testing"
)

func TestClass(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, addr, want string }{
		{"this network", "0.1.2.3", "this-network"},
		{"private 10/8", "10.255.255.255", "private"},
		{"cgnat low end", "100.64.0.1", "shared-cgnat"},
		{"cgnat high end", "100.127.255.255", "shared-cgnat"},
		{"loopback", "127.0.0.1", "loopback"},
		{"link-local metadata", "169.254.169.254", "link-local"},
		{"private 172.16/12", "172.31.255.255", "private"},
		{"ietf protocol", "192.0.0.8", "ietf-protocol"},
		{"documentation 1", "192.0.2.1", "documentation"},
		{"6to4 relay", "192.88.99.1", "6to4-relay"},
		{"private 192.168/16", "192.168.1.1", "private"},
		{"benchmarking", "198.19.0.1", "benchmarking"},
		{"documentation 2", "198.51.100.1", "documentation"},
		{"documentation 3", "203.0.113.1", "documentation"},
		{"multicast", "239.255.255.250", "multicast"},
		{"reserved", "240.0.0.1", "reserved"},
		{"broadcast", "255.255.255.255", "reserved"},
		{"mapped loopback", "::ffff:127.0.0.1", "loopback"},
		{"mapped cgnat", "::ffff:100.64.0.1", "shared-cgnat"},
		{"ipv6 loopback", "::1", "loopback"},
		{"ipv6 unspecified", "::", "unspecified"},
		{"ipv6 unique local", "fd12:3456::1", "private"},
		{"ipv6 link-local", "fe80::1", "link-local"},
		{"ipv6 multicast", "ff02::1", "multicast"},
		{"ipv6 site-local", "fec0::1", "not-global-unicast"},
		{"ipv4-compatible", "::127.0.0.1", "not-global-unicast"},
		{"nat64 of loopback", "64:ff9b::7f00:1", "embeds loopback"},
		{"nat64 local use", "64:ff9b:1::1", "nat64-local"},
		{"6to4 of private", "2002:a00:1::1", "embeds private"},
		{"ipv6 documentation", "2001:db8::1", "documentation"},
		{"ipv6 documentation 3fff", "3fff::1", "documentation"},
		{"teredo", "2001::1", "ietf-protocol"},
		{"discard-only", "100::1", "not-global-unicast"},
		{"zoned", "fe80::1%eth0", "zoned"},
		{"public ipv4", "8.8.8.8", ""},
		{"just past cgnat", "100.128.0.1", ""},
		{"just past 172.16/12", "172.32.0.1", ""},
		{"public ipv6", "2a00:1450::1", ""},
		{"mapped public", "::ffff:8.8.8.8", ""},
		{"nat64 of public", "64:ff9b::808:808", ""},
		{"6to4 of public", "2002:808:808::1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := netip.MustParseAddr(tc.addr)
			if got := Class(a); got != tc.want {
				t.Errorf("Class(%s) = %q, want %q", tc.addr, got, tc.want)
			}
			if Public(a) != (tc.want == "") {
				t.Errorf("Public(%s) = %v, want %v", tc.addr, Public(a), tc.want == "")
			}
		})
	}
	if got := Class(netip.Addr{}); got != "invalid" {
		t.Errorf("Class(zero) = %q, want invalid", got)
	}
}
