package rdap

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/openrdap/rdap"
)

// The levels above a hoster, where escalation goes when the hoster does not
// act: the parent network (the allocation the hoster's assignment was cut
// from, usually its upstream provider's) and the autonomous system that
// announces the address.

// LookupParent returns the network one level above n. It asks for the
// prefix n's rel "up" link names, or, when the server gave only a
// parentHandle (ARIN), for n's widest prefix widened by one bit: the
// server answers with the most specific network holding all of it, which
// is n's parent. errors.Is(err, ErrNoParent) means n names none;
// ErrNotFound alone means the server had no answer.
//
// Parents are cached by the prefix asked for, apart from the answers of
// LookupIP: stored by their own range they would answer LookupIP for every
// address in their range, hiding the more specific networks of other
// customers there.
func (c *Client) LookupParent(ctx context.Context, n *Network) (*Network, error) {
	q, ok := parentQuery(n)
	if !ok {
		return nil, fmt.Errorf("rdap lookup parent of %s: %w", n.Handle, ErrNoParent)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	v, err, _ := c.flight.Do("parent:"+q.String(), func() (any, error) {
		return c.lookupParent(ctx, q)
	})
	if err != nil {
		return nil, fmt.Errorf("rdap lookup parent of %s: %w", n.Handle, err)
	}
	p := v.(*Network)
	if (p.Handle == n.Handle && p.Start == n.Start && p.End == n.End) || wholeSpace(p.Handle, p.CIDRs) {
		// The server had nothing wider than n but the registry itself.
		return nil, fmt.Errorf("rdap lookup parent of %s: %w", n.Handle, ErrNoParent)
	}
	return p, nil
}

func (c *Client) lookupParent(ctx context.Context, q netip.Prefix) (*Network, error) {
	if p := c.mem.parent(q); p != nil {
		c.metrics.cache("memory")
		return p, nil
	}
	if c.cache != nil {
		p, err := c.cache.Parent(ctx, q)
		if err != nil {
			c.log.Warn("rdap cache get", "err", err)
		} else if p != nil {
			c.metrics.cache("shared")
			c.mem.putParent(q, p)
			return p, nil
		}
	}
	if c.isMissing(ctx, missParent(q)) {
		return nil, ErrNotFound
	}
	c.metrics.cache("miss")
	base, err := c.baseForIP(q.Addr().String(), q.Addr().Is4())
	if err != nil {
		return nil, err
	}
	obj, host, err := c.get(ctx, base+"ip/"+q.String(), "ip network")
	if err != nil {
		c.remember(ctx, missParent(q), err)
		return nil, err
	}
	ipn, ok := obj.(*rdap.IPNetwork)
	if !ok {
		return nil, &Error{Server: host, Err: fmt.Errorf("want ip network, got %T: %w", obj, errMalformed)}
	}
	// Kept even when it is the whole address space or n itself: the
	// caller discards those, and the cache spares asking again.
	p := c.network(ctx, ipn, q.Addr(), host)
	c.mem.putParent(q, p)
	if c.cache != nil {
		if err := c.cache.PutParent(ctx, q, p); err != nil {
			c.log.Warn("rdap cache put", "err", err)
		}
	}
	return p, nil
}

// parentQuery is the prefix to ask for n's parent, if n has one.
func parentQuery(n *Network) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(n.ParentPrefix); err == nil && p.Bits() > 0 {
		return p.Masked(), true
	}
	if n.Parent == "" || n.AddressOnly || wholeSpace(n.Parent, nil) {
		return netip.Prefix{}, false
	}
	var widest netip.Prefix
	for _, s := range n.CIDRs {
		p, err := netip.ParsePrefix(s)
		if err == nil && p.Bits() > 0 && (!widest.IsValid() || p.Bits() < widest.Bits()) {
			widest = p
		}
	}
	if !widest.IsValid() {
		return netip.Prefix{}, false
	}
	q, _ := widest.Addr().Prefix(widest.Bits() - 1)
	return q, true
}

// wholeSpace reports whether a handle or prefix list stands for the whole
// address space (RIPE's "0.0.0.0 - 255.255.255.255" parent): the registry
// itself, not a network whose operator can act.
func wholeSpace(handle string, cidrs []string) bool {
	switch strings.ReplaceAll(handle, " ", "") {
	case "0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0/0", "::/0":
		return true
	}
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil && p.Bits() == 0 {
			return true
		}
	}
	return false
}

// upPrefix reads the prefix of a rel "up" link (".../ip/210.0.0.0/8") that
// holds addr. Only the prefix is taken, not the link's host: the bootstrap
// decides which server to ask, so an answer cannot send us anywhere else.
func upPrefix(links []rdap.Link, addr netip.Addr) string {
	for _, l := range links {
		if !strings.EqualFold(l.Rel, "up") || l.Href == "" {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil {
			continue
		}
		i := strings.LastIndex(u.Path, "/ip/")
		if i < 0 {
			continue
		}
		p, err := netip.ParsePrefix(u.Path[i+len("/ip/"):])
		if err == nil && p.Bits() > 0 && p.Contains(addr.Unmap()) {
			return p.Masked().String()
		}
	}
	return ""
}

// LookupAutnum returns the RDAP answer for an AS number, from the registry
// the IANA bootstrap names for it. errors.Is(err, ErrNotFound) means no
// data.
func (c *Client) LookupAutnum(ctx context.Context, asn uint32) (*Autnum, error) {
	if asn == 0 {
		return nil, fmt.Errorf("rdap lookup autnum: %w", errMalformed)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	v, err, _ := c.flight.Do("autnum:"+strconv.FormatUint(uint64(asn), 10), func() (any, error) {
		return c.lookupAutnum(ctx, asn)
	})
	if err != nil {
		return nil, fmt.Errorf("rdap lookup autnum AS%d: %w", asn, err)
	}
	return v.(*Autnum), nil
}

func (c *Client) lookupAutnum(ctx context.Context, asn uint32) (*Autnum, error) {
	if a := c.mem.autnum(asn); a != nil {
		c.metrics.cache("memory")
		return a, nil
	}
	if c.cache != nil {
		a, err := c.cache.Autnum(ctx, asn)
		if err != nil {
			c.log.Warn("rdap cache get", "err", err)
		} else if a != nil {
			c.metrics.cache("shared")
			c.mem.putAutnum(a)
			return a, nil
		}
	}
	if c.isMissing(ctx, missAutnum(asn)) {
		return nil, ErrNotFound
	}
	c.metrics.cache("miss")
	base, err := c.baseForASN(asn)
	if err != nil {
		return nil, err
	}
	obj, host, err := c.get(ctx, base+"autnum/"+strconv.FormatUint(uint64(asn), 10), "autnum")
	if err != nil {
		c.remember(ctx, missAutnum(asn), err)
		return nil, err
	}
	an, ok := obj.(*rdap.Autnum)
	if !ok {
		return nil, &Error{Server: host, Err: fmt.Errorf("want autnum, got %T: %w", obj, errMalformed)}
	}
	a := buildAutnum(ctx, an, asn, host, c.fetchEntity)
	a.FetchedAt = c.now()
	c.mem.putAutnum(a)
	if c.cache != nil {
		if err := c.cache.PutAutnum(ctx, a); err != nil {
			c.log.Warn("rdap cache put", "err", err)
		}
	}
	return a, nil
}

// buildAutnum is the extraction the client and the fixture tests share.
func buildAutnum(ctx context.Context, an *rdap.Autnum, asn uint32, host string, fetch entityFetcher) *Autnum {
	a := &Autnum{ASN: asn, Handle: an.Handle, Name: an.Name, Country: an.Country, Server: host,
		Contacts: abuseContacts(ctx, host, an.Handle, an.Entities, an.Remarks, nil, true, fetch)}
	if an.StartAutnum != nil {
		a.Start = *an.StartAutnum
	}
	if an.EndAutnum != nil {
		a.End = *an.EndAutnum
	}
	return a
}
