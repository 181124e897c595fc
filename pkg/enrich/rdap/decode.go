package rdap

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/openrdap/rdap"
	"go4.org/netipx"
)

// maxRangePrefixes caps how many prefixes an odd start/end range may split
// into before we stop caching it by range.
const maxRangePrefixes = 32

// errMalformed marks an answer we cannot use; it is permanent.
var errMalformed = errors.New("malformed rdap answer")

// decodeObject decodes an answer with openrdap. Answers without
// objectClassName (pre-2016 RIPE) decode to *rdap.Help there; for those we
// add the class we asked for and decode again.
func decodeObject(body []byte, class string) (any, error) {
	obj, err := rdap.NewDecoder(body).Decode()
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", class, errMalformed, err)
	}
	if _, ok := obj.(*rdap.Help); !ok {
		return obj, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", class, errMalformed, err)
	}
	if raw == nil {
		// A body of JSON null decodes without error into no object.
		return nil, fmt.Errorf("decode %s: %w: the answer is null, not an object", class, errMalformed)
	}
	raw["objectClassName"] = class
	fixed, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", class, errMalformed, err)
	}
	obj, err = rdap.NewDecoder(fixed).Decode()
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %w", class, errMalformed, err)
	}
	return obj, nil
}

// rdapError turns an RDAP error object into our error.
func rdapError(server string, e *rdap.Error) error {
	code := int(derefUint(e.ErrorCode))
	if code == 404 {
		return ErrNotFound
	}
	return &Error{Server: server, Status: code, Retryable: code == 429 || code >= 500,
		Err: fmt.Errorf("rdap error %d %q", code, e.Title)}
}

func derefUint(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}

// parseAddr reads the addresses registries actually send: zero-padded
// octets ("074.125.000.000") and "/32" or "/128" suffixes included.
func parseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, fmt.Errorf("parse address %q: %w", s, errMalformed)
	}
	var b [4]byte
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || p == "" {
			return netip.Addr{}, fmt.Errorf("parse address %q: %w", s, errMalformed)
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}

// networkRange fills Start, End, CIDRs and AddressOnly from the answer.
func networkRange(n *Network, ipn *rdap.IPNetwork, queried netip.Addr) {
	start, errS := parseAddr(ipn.StartAddress)
	end, errE := parseAddr(ipn.EndAddress)
	if errS == nil && errE == nil {
		n.Start, n.End = start.String(), end.String()
	} else {
		n.Start, n.End = ipn.StartAddress, ipn.EndAddress
	}
	if errS == nil && errE == nil && start == end && start == queried {
		n.AddressOnly = true
		n.CIDRs = []string{netip.PrefixFrom(queried, queried.BitLen()).String()}
		return
	}
	if cidrs := cidr0(ipn); len(cidrs) > 0 {
		n.CIDRs = cidrs
		return
	}
	if errS != nil || errE != nil {
		return
	}
	prefixes := netipx.IPRangeFrom(start, end).Prefixes()
	if len(prefixes) > maxRangePrefixes {
		return
	}
	for _, p := range prefixes {
		n.CIDRs = append(n.CIDRs, p.String())
	}
}

// cidr0 reads the cidr0 extension, which openrdap keeps as an unknown field.
func cidr0(ipn *rdap.IPNetwork) []string {
	if ipn.DecodeData == nil {
		return nil
	}
	list, _ := ipn.DecodeData.Value("cidr0_cidrs").([]any)
	var out []string
	for _, item := range list {
		m, _ := item.(map[string]any)
		length, ok := m["length"].(float64)
		if !ok {
			continue
		}
		for _, key := range []string{"v4prefix", "v6prefix"} {
			s, _ := m[key].(string)
			if s == "" {
				continue
			}
			a, err := parseAddr(s)
			if err != nil {
				continue
			}
			if p, err := a.Prefix(int(length)); err == nil && int(length) == p.Bits() {
				out = append(out, p.String())
			}
		}
	}
	return out
}
