package rdap

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Cache stores answers so replicas share them. Network answers are found by
// any address inside them, parent networks by the prefix asked for (see
// Client.LookupParent), autnums by number, domain answers by registrable
// domain. A miss is (nil, nil).
type Cache interface {
	Network(ctx context.Context, addr netip.Addr) (*Network, error)
	PutNetwork(ctx context.Context, n *Network) error
	Parent(ctx context.Context, q netip.Prefix) (*Network, error)
	PutParent(ctx context.Context, q netip.Prefix, n *Network) error
	Autnum(ctx context.Context, asn uint32) (*Autnum, error)
	PutAutnum(ctx context.Context, a *Autnum) error
	Domain(ctx context.Context, name string) (*Domain, error)
	PutDomain(ctx context.Context, d *Domain) error
	// Missing returns until when a server's "no such object" answer for
	// a query stands (see the miss* keys), the zero time for none;
	// PutMissing records such an answer until the time given.
	Missing(ctx context.Context, key string) (time.Time, error)
	PutMissing(ctx context.Context, key string, until time.Time) error
}

// DefaultCacheTTL is how long answers are kept: SCART refreshes the hoster
// lookup every 12 hours too.
const DefaultCacheTTL = 12 * time.Hour

// DefaultNegativeTTL is how long a "no such object" answer is kept: long
// enough that a mirror without an AS number is not asked again for every
// case (one question an hour per object), short enough that a network or
// domain registered today is found today.
const DefaultNegativeTTL = time.Hour

// BucketConfig returns the KV bucket configuration the cache expects; the
// bucket TTL expires entries.
func BucketConfig(name string, ttl time.Duration) jetstream.KeyValueConfig {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return jetstream.KeyValueConfig{Bucket: name, TTL: ttl, Description: "RDAP answers by network prefix, parent query, AS number and domain"}
}

// KVCache is a Cache in a JetStream key-value bucket.
type KVCache struct {
	kv jetstream.KeyValue
}

var _ Cache = (*KVCache)(nil)

// NewKVCache returns a cache in kv (see BucketConfig for its TTL).
func NewKVCache(kv jetstream.KeyValue) *KVCache { return &KVCache{kv: kv} }

// prefixLengths are the lengths a lookup walks, most specific first. IPv6
// walks /128 (single-address answers) and /64 to /16, where allocations
// live; a network only expressible in other lengths is simply not cached.
func prefixLengths(is4 bool) []int {
	var out []int
	if is4 {
		for b := 32; b >= 8; b-- {
			out = append(out, b)
		}
		return out
	}
	out = append(out, 128)
	for b := 64; b >= 16; b-- {
		out = append(out, b)
	}
	return out
}

func cacheable(p netip.Prefix) bool {
	b := p.Bits()
	if p.Addr().Is4() {
		return b >= 8
	}
	return b == 128 || (b >= 16 && b <= 64)
}

// networkKey is a valid KV key for a prefix: "net.4.b93a0100.24".
func networkKey(p netip.Prefix) string { return prefixKey("net.", p) }

// parentKey is the key of a parent answer by the prefix asked for:
// "up.4.b9000000.16".
func parentKey(q netip.Prefix) string { return prefixKey("up.", q) }

func prefixKey(space string, p netip.Prefix) string {
	fam := "6"
	if p.Addr().Is4() {
		fam = "4"
	}
	return space + fam + "." + hex.EncodeToString(p.Masked().Addr().AsSlice()) + "." + strconv.Itoa(p.Bits())
}

// autnumKey is the key of an AS number: "asn.8283".
func autnumKey(asn uint32) string { return "asn." + strconv.FormatUint(uint64(asn), 10) }

// domainKey is a valid KV key for a domain, or "" when the name has
// characters KV keys cannot hold (it then goes uncached).
func domainKey(name string) string {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return ""
		}
	}
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return ""
	}
	return "dom." + name
}

// Network walks the prefix lengths concurrently (one round trip's latency
// rather than 25) and returns the most specific stored network.
func (c *KVCache) Network(ctx context.Context, addr netip.Addr) (*Network, error) {
	addr = addr.Unmap()
	lengths := prefixLengths(addr.Is4())
	found := make([][]byte, len(lengths))
	errs := make([]error, len(lengths))
	var wg sync.WaitGroup
	for i, bits := range lengths {
		p, err := addr.Prefix(bits)
		if err != nil {
			continue
		}
		wg.Go(func() {
			e, err := c.kv.Get(ctx, networkKey(p))
			if err == nil {
				found[i] = e.Value()
			} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for i := range lengths {
		if found[i] == nil {
			continue
		}
		var n Network
		if err := json.Unmarshal(found[i], &n); err != nil {
			return nil, fmt.Errorf("decode cached network: %w", err)
		}
		return &n, nil
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("get cached network: %w", err)
	}
	return nil, nil
}

// PutNetwork stores n under each of its CIDRs.
func (c *KVCache) PutNetwork(ctx context.Context, n *Network) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode network: %w", err)
	}
	for _, p := range cachePrefixes(n) {
		if _, err := c.kv.Put(ctx, networkKey(p), body); err != nil {
			return fmt.Errorf("put cached network: %w", err)
		}
	}
	return nil
}

func cachePrefixes(n *Network) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range n.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil && cacheable(p) {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Parent returns the cached parent answer for the prefix asked for.
func (c *KVCache) Parent(ctx context.Context, q netip.Prefix) (*Network, error) {
	return getJSON[Network](ctx, c.kv, parentKey(q), "parent network")
}

// PutParent stores a parent answer under the prefix asked for.
func (c *KVCache) PutParent(ctx context.Context, q netip.Prefix, n *Network) error {
	return putJSON(ctx, c.kv, parentKey(q), n, "parent network")
}

// Autnum returns the cached answer for an AS number.
func (c *KVCache) Autnum(ctx context.Context, asn uint32) (*Autnum, error) {
	return getJSON[Autnum](ctx, c.kv, autnumKey(asn), "autnum")
}

// PutAutnum stores a under its number.
func (c *KVCache) PutAutnum(ctx context.Context, a *Autnum) error {
	return putJSON(ctx, c.kv, autnumKey(a.ASN), a, "autnum")
}

// Domain returns the cached answer for a registrable domain.
func (c *KVCache) Domain(ctx context.Context, name string) (*Domain, error) {
	return getJSON[Domain](ctx, c.kv, domainKey(name), "domain")
}

// PutDomain stores d under its name.
func (c *KVCache) PutDomain(ctx context.Context, d *Domain) error {
	return putJSON(ctx, c.kv, domainKey(d.Name), d, "domain")
}

// Keys of "no such object" answers, one per kind of query: an address
// (its own key: the answer says nothing about its neighbours), a parent
// query, an AS number, a domain ("" when the name cannot be a key).
func missIP(a netip.Addr) string {
	a = a.Unmap()
	return "no." + networkKey(netip.PrefixFrom(a, a.BitLen()))
}

func missParent(q netip.Prefix) string { return "no." + parentKey(q) }

func missAutnum(asn uint32) string { return "no." + autnumKey(asn) }

func missDomain(name string) string {
	if k := domainKey(name); k != "" {
		return "no." + k
	}
	return ""
}

// missing is a stored "no such object" answer.
type missing struct {
	Until time.Time `json:"until"`
}

// Missing returns until when the "no such object" answer under key
// stands. The bucket's TTL (that of answers) removes it later; until then
// its own time decides.
func (c *KVCache) Missing(ctx context.Context, key string) (time.Time, error) {
	m, err := getJSON[missing](ctx, c.kv, key, "missing object")
	if err != nil || m == nil {
		return time.Time{}, err
	}
	return m.Until, nil
}

// PutMissing records a "no such object" answer until the time given.
func (c *KVCache) PutMissing(ctx context.Context, key string, until time.Time) error {
	return putJSON(ctx, c.kv, key, missing{Until: until}, "missing object")
}

// getJSON reads one entry; an empty key (a name KV cannot hold) is a miss.
func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key, what string) (*T, error) {
	if key == "" {
		return nil, nil
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get cached %s: %w", what, err)
	}
	var v T
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, fmt.Errorf("decode cached %s: %w", what, err)
	}
	return &v, nil
}

// putJSON writes one entry; an empty key goes uncached.
func putJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any, what string) error {
	if key == "" {
		return nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", what, err)
	}
	if _, err := kv.Put(ctx, key, body); err != nil {
		return fmt.Errorf("put cached %s: %w", what, err)
	}
	return nil
}
