package rdap

import (
	"net/netip"
	"sync"
	"time"
)

// memCache is the in-process front of the shared cache, so hot networks
// and domains cost no KV round trip. It evicts roughly (a tenth of the
// entries, in map order) when full, which is enough to bound memory.
type memCache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	networks map[netip.Prefix]memEntry[*Network]
	parents  map[netip.Prefix]memEntry[*Network] // by the prefix asked for
	autnums  map[uint32]memEntry[*Autnum]
	domains  map[string]memEntry[*Domain]
	missing  map[string]memEntry[struct{}] // "no such object" answers, by miss* key
}

type memEntry[T any] struct {
	v       T
	expires time.Time
}

func newMemCache(maxEntries int, ttl time.Duration, now func() time.Time) *memCache {
	return &memCache{max: maxEntries, ttl: ttl, now: now,
		networks: make(map[netip.Prefix]memEntry[*Network]), parents: make(map[netip.Prefix]memEntry[*Network]),
		autnums: make(map[uint32]memEntry[*Autnum]), domains: make(map[string]memEntry[*Domain]),
		missing: make(map[string]memEntry[struct{}])}
}

func (m *memCache) network(addr netip.Addr) *Network {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for bits := addr.BitLen(); bits >= 0; bits-- {
		p, _ := addr.Prefix(bits)
		if e, ok := m.networks[p]; ok && now.Before(e.expires) {
			return e.v
		}
	}
	return nil
}

func (m *memCache) putNetwork(n *Network) {
	expires := n.FetchedAt.Add(m.ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	trim(m.networks, m.max)
	for _, s := range n.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			m.networks[p.Masked()] = memEntry[*Network]{v: n, expires: expires}
		}
	}
}

func (m *memCache) parent(q netip.Prefix) *Network { return get(m, m.parents, q) }

func (m *memCache) putParent(q netip.Prefix, n *Network) { put(m, m.parents, q, n, n.FetchedAt) }

func (m *memCache) autnum(asn uint32) *Autnum { return get(m, m.autnums, asn) }

func (m *memCache) putAutnum(a *Autnum) { put(m, m.autnums, a.ASN, a, a.FetchedAt) }

func (m *memCache) domain(name string) *Domain { return get(m, m.domains, name) }

func (m *memCache) putDomain(d *Domain) { put(m, m.domains, d.Name, d, d.FetchedAt) }

// isMissing reports whether a "no such object" answer under key stands.
func (m *memCache) isMissing(key string) bool {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.missing[key]
	return ok && now.Before(e.expires)
}

// putMissing keeps a "no such object" answer until the time given, which
// is its own, shorter than the answers' TTL.
func (m *memCache) putMissing(key string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	trim(m.missing, m.max)
	m.missing[key] = memEntry[struct{}]{expires: until}
}

// get and put serve the maps keyed exactly (all but networks, which are
// found by any address inside them).
func get[K comparable, V any](m *memCache, entries map[K]memEntry[V], k K) V {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := entries[k]; ok && now.Before(e.expires) {
		return e.v
	}
	var zero V
	return zero
}

func put[K comparable, V any](m *memCache, entries map[K]memEntry[V], k K, v V, fetched time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	trim(entries, m.max)
	entries[k] = memEntry[V]{v: v, expires: fetched.Add(m.ttl)}
}

func trim[K comparable, V any](m map[K]V, maxEntries int) {
	if len(m) < maxEntries {
		return
	}
	drop := max(maxEntries/10, 1)
	for k := range m {
		delete(m, k)
		if drop--; drop == 0 {
			return
		}
	}
}
