package enrich

import (
	"context"
	"net/netip"
	"sync"

	"github.com/takedownd/takedownd/pkg/urlnorm"
)

// NetworkCache is an optional add-on of Registry (*rdap.Client has it):
// whether a lookup of an address's network would be answered without
// asking a server.
type NetworkCache interface {
	KnowsNetwork(addr netip.Addr) bool
}

// prefetcher looks up, in the background, the networks of cases that
// wait parked (store.Park) for them, so that the enrich workers serve the
// cases whose networks are known meanwhile. It starts one lookup per
// /24 (/48) — the registry's own sharing unit — and at most cap(slots) at
// once: as many as the workers would have waited on, so the queue at a
// registry's rate limit stays as short as before and no lookup spends its
// timeout in it.
type prefetcher struct {
	reg   Registry
	known NetworkCache
	slots chan struct{}

	mu      sync.Mutex
	pending map[netip.Prefix]chan struct{}
}

func newPrefetcher(reg Registry, known NetworkCache, concurrency int) *prefetcher {
	return &prefetcher{reg: reg, known: known, slots: make(chan struct{}, concurrency), pending: map[netip.Prefix]chan struct{}{}}
}

// wait returns nil when addr's network is known, else a channel closed
// once the background lookup of it (started now, or joined) has ended,
// with an answer or not. life bounds the lookup.
func (p *prefetcher) wait(life context.Context, addr netip.Addr) <-chan struct{} {
	if p.known.KnowsNetwork(addr) {
		return nil
	}
	key := lookupBucket(addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ch, ok := p.pending[key]; ok {
		return ch
	}
	ch := make(chan struct{})
	p.pending[key] = ch
	go func() {
		defer func() {
			p.mu.Lock()
			delete(p.pending, key)
			p.mu.Unlock()
			close(ch)
		}()
		select {
		case p.slots <- struct{}{}:
		case <-life.Done():
			return
		}
		defer func() { <-p.slots }()
		// The answer lands in the registry's caches. A failure is met
		// again, and classified, by the case's own lookup when it comes
		// back from its park.
		_, _ = p.reg.LookupIP(life, addr)
	}()
	return ch
}

// lookupBucket is the prefix whose lookups the registry shares.
func lookupBucket(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	if addr.Is4() {
		p, _ := addr.Prefix(24)
		return p
	}
	p, _ := addr.Prefix(48)
	return p
}

// HosterPending returns nil when the RDAP networks of u's addresses are
// known here, or when that cannot be told (DNS fails, the Registry keeps
// no cache, Options.Prefetch is 0); else a channel that closes once the
// background lookups of the missing ones have ended. The enrich stage
// parks a case on it (store.Park) rather than have a worker wait out a
// registry's rate limit; life bounds the lookups. DNS answers come from
// the resolver's cache when the case's own enrichment asks again.
func (e *Enricher) HosterPending(ctx, life context.Context, u urlnorm.URL) <-chan struct{} {
	if e.prefetch == nil {
		return nil
	}
	_, addrs, err := e.resolve(ctx, u)
	if err != nil {
		return nil
	}
	var waits []<-chan struct{}
	for _, a := range addrs {
		if ch := e.prefetch.wait(life, a); ch != nil {
			waits = append(waits, ch)
		}
	}
	switch len(waits) {
	case 0:
		return nil
	case 1:
		return waits[0]
	}
	all := make(chan struct{})
	go func() {
		defer close(all)
		for _, ch := range waits {
			<-ch
		}
	}()
	return all
}
