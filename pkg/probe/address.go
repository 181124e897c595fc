package probe

import (
	"fmt"
	"net/netip"

	"github.com/takedownd/takedownd/pkg/netrange"
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

// CheckAddr returns nil when addr is public unicast and an *AddressError
// naming its class otherwise. The table is pkg/netrange's, the same that
// makes a case not actionable at intake and enrichment; the prober checks
// it again at dial time because DNS may answer differently by then.
func CheckAddr(addr netip.Addr) error {
	if why := netrange.Class(addr); why != "" {
		return &AddressError{Addr: addr.Unmap(), Why: why}
	}
	return nil
}
