package rdap

import (
	"context"
	"errors"
	"net/netip"
)

// How the client uses its two cache layers: the in-process front (memCache)
// and the cache shared by replicas (Cache, a KV bucket), for answers and for
// "no such object" answers alike.

func (c *Client) cachedNetwork(ctx context.Context, addr netip.Addr) *Network {
	if n := c.mem.network(addr); n != nil {
		c.metrics.cache("memory")
		return n
	}
	if c.cache == nil {
		return nil
	}
	n, err := c.cache.Network(ctx, addr)
	if err != nil {
		c.log.Warn("rdap cache get", "err", err)
		return nil
	}
	if n != nil {
		c.metrics.cache("shared")
		c.mem.putNetwork(n)
	}
	return n
}

// isMissing reports whether a recent answer said the server has no object
// for key; the shared layer's answer is copied to the front.
func (c *Client) isMissing(ctx context.Context, key string) bool {
	if key == "" {
		return false
	}
	if c.mem.isMissing(key) {
		c.metrics.cache("memory")
		return true
	}
	if c.cache == nil {
		return false
	}
	until, err := c.cache.Missing(ctx, key)
	if err != nil {
		c.log.Warn("rdap cache get", "err", err)
		return false
	}
	if !c.now().Before(until) {
		return false
	}
	c.metrics.cache("shared")
	c.mem.putMissing(key, until)
	return true
}

// remember keeps a "no such object" answer (err matches ErrNotFound) for
// NegativeTTL, so the next case does not ask again; other errors are not
// kept.
func (c *Client) remember(ctx context.Context, key string, err error) {
	if key == "" || !errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoParent) {
		return
	}
	until := c.now().Add(c.cfg.NegativeTTL)
	c.mem.putMissing(key, until)
	if c.cache == nil {
		return
	}
	if err := c.cache.PutMissing(ctx, key, until); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("rdap cache put", "err", err)
	}
}

// store puts an answer in both cache layers; a shared-cache failure costs
// only a repeated query later, so it is logged, not returned.
func (c *Client) store(ctx context.Context, n *Network, d *Domain) {
	var err error
	if n != nil {
		c.mem.putNetwork(n)
		if c.cache != nil {
			err = c.cache.PutNetwork(ctx, n)
		}
	}
	if d != nil {
		c.mem.putDomain(d)
		if c.cache != nil {
			err = c.cache.PutDomain(ctx, d)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("rdap cache put", "err", err)
	}
}

// KnowsNetwork reports whether this process's cache answers a lookup of
// addr without a server: its network, or a standing "no such network".
// The shared layer is not asked (a round trip, for a guess), so a network
// another replica found reads as unknown until a lookup copies it here.
func (c *Client) KnowsNetwork(addr netip.Addr) bool {
	addr = addr.Unmap()
	return c.mem.network(addr) != nil || c.mem.isMissing(missIP(addr))
}
