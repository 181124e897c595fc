// Package dns resolves the host of a reported URL to its addresses and CNAME
// chain, the first step of enrichment. It asks configured servers (or those
// of the system's resolv.conf) directly with github.com/miekg/dns rather than
// the Go resolver, because the audit needs what the resolver does not give:
// the full CNAME chain, the TTLs, and which server said so.
//
// Errors are classified where they are seen: errors.Is(err,
// ErrUnresolvable) means DNS says the name has no address (NXDOMAIN, no A or
// AAAA, a CNAME loop), so the case becomes unresolvable and is tried again
// on a schedule; errors.Is(err, ErrTemporary) means the servers failed
// (SERVFAIL, REFUSED, timeouts) and the lookup should be retried soon.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Permanent errors: the name does not resolve to an address. All of them
// match ErrUnresolvable with errors.Is.
var (
	ErrUnresolvable = errors.New("host unresolvable")
	ErrNXDomain     = fmt.Errorf("%w: no such domain", ErrUnresolvable)
	ErrNoData       = fmt.Errorf("%w: no A or AAAA records", ErrUnresolvable)
	ErrCNAMELoop    = fmt.Errorf("%w: cname loop", ErrUnresolvable)
	ErrChainTooLong = fmt.Errorf("%w: cname chain too long", ErrUnresolvable)
	ErrBadName      = fmt.Errorf("%w: not a domain name", ErrUnresolvable)
)

// ErrTemporary marks failures of the servers rather than answers about the
// name (SERVFAIL, REFUSED, timeouts, network errors): retry later.
var ErrTemporary = errors.New("temporary dns failure")

// Config holds the resolver settings; zero fields take the defaults below.
type Config struct {
	// Servers are host:port addresses asked in order; a missing port means
	// 53. Empty means the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is read when Servers is empty. Default /etc/resolv.conf.
	ResolvConf string
	// Timeout bounds each single query. Default 2s.
	Timeout time.Duration
	// CacheSize bounds the number of cached hosts. Default 100,000; negative
	// disables the cache.
	CacheSize int
	// MinTTL and MaxTTL clamp how long an answer is cached: the floor keeps
	// a burst of URLs on a TTL-0 host from querying once per URL, the cap
	// makes a moved host visible. Defaults 30s and 1h.
	MinTTL, MaxTTL time.Duration
	// NegativeTTL caps how long NXDOMAIN and NODATA are cached, and applies
	// when the server sent no SOA. Default 5m.
	NegativeTTL time.Duration
	// MaxCNAMEs bounds the chain followed. Default 8.
	MaxCNAMEs int
}

func (c Config) withDefaults() Config {
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100_000
	}
	if c.MinTTL <= 0 {
		c.MinTTL = 30 * time.Second
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = time.Hour
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = 5 * time.Minute
	}
	if c.MaxCNAMEs <= 0 {
		c.MaxCNAMEs = 8
	}
	return c
}

// Answer is what DNS says about one host.
type Answer struct {
	// Host is the name asked, lower case, without the trailing dot.
	Host string
	// Addrs holds the A addresses, then the AAAA ones, in answer order.
	Addrs []netip.Addr
	// CNAMEs is the chain from Host in order (Host itself not included).
	CNAMEs []string
	// TTL is the smallest TTL of the records used, as served.
	TTL time.Duration
	// Server is the server that gave the answer, for the audit trail.
	Server string
	// Partial is set when one address family failed temporarily and the
	// other gave addresses; such answers are cached only briefly.
	Partial bool
	// Cached is set when the answer came from the cache.
	Cached bool
}

func (a Answer) clone() Answer {
	a.Addrs = append([]netip.Addr(nil), a.Addrs...)
	a.CNAMEs = append([]string(nil), a.CNAMEs...)
	return a
}

// Stats counts the resolver's work since it was built.
type Stats struct {
	Queries   uint64 // DNS messages sent
	CacheHits uint64 // Resolve calls answered from the cache
}

// Resolver resolves hosts with caching and merging of concurrent lookups.
// It is safe for concurrent use.
type Resolver struct {
	cfg     Config
	servers []string
	log     *slog.Logger
	now     func() time.Time
	udp     *mdns.Client
	tcp     *mdns.Client
	cache   *cache
	group   singleflight.Group

	queries atomic.Uint64
	hits    atomic.Uint64
}

// New builds a resolver. now is the clock that ages the cache.
func New(cfg Config, log *slog.Logger, now func() time.Time) (*Resolver, error) {
	cfg = cfg.withDefaults()
	servers, err := serverList(cfg, log)
	if err != nil {
		return nil, err
	}
	return &Resolver{
		cfg:     cfg,
		servers: servers,
		log:     log,
		now:     now,
		udp:     &mdns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: ednsSize},
		tcp:     &mdns.Client{Net: "tcp", Timeout: cfg.Timeout},
		cache:   newCache(cfg.CacheSize),
	}, nil
}

// serverList returns the configured servers with ports, or the system's.
func serverList(cfg Config, log *slog.Logger) ([]string, error) {
	if len(cfg.Servers) > 0 {
		out := make([]string, 0, len(cfg.Servers))
		for _, s := range cfg.Servers {
			if _, _, err := net.SplitHostPort(s); err != nil {
				if strings.Contains(err.Error(), "missing port") {
					s = net.JoinHostPort(strings.Trim(s, "[]"), "53")
				} else {
					return nil, fmt.Errorf("parse dns server %q: %w", s, err)
				}
			}
			out = append(out, s)
		}
		return out, nil
	}
	conf, err := mdns.ClientConfigFromFile(cfg.ResolvConf)
	if err == nil && len(conf.Servers) > 0 {
		out := make([]string, 0, len(conf.Servers))
		for _, s := range conf.Servers {
			out = append(out, net.JoinHostPort(s, conf.Port))
		}
		return out, nil
	}
	// The C library's choice when resolv.conf names no server: a resolver
	// on this machine.
	log.Warn("no nameserver in resolv.conf, using localhost", "path", cfg.ResolvConf, "err", err)
	return []string{"127.0.0.1:53", "[::1]:53"}, nil
}

// Servers returns the servers asked, in order.
func (r *Resolver) Servers() []string { return append([]string(nil), r.servers...) }

// Stats returns the counters.
func (r *Resolver) Stats() Stats {
	return Stats{Queries: r.queries.Load(), CacheHits: r.hits.Load()}
}

// Resolve returns the addresses and CNAME chain of host, a domain name (IP
// literals are the caller's business). On ErrUnresolvable the returned
// Answer still holds the CNAME chain seen, for the audit.
func (r *Resolver) Resolve(ctx context.Context, host string) (Answer, error) {
	key := strings.ToLower(mdns.Fqdn(host))
	if _, ok := mdns.IsDomainName(key); !ok || key == "." {
		return Answer{}, fmt.Errorf("resolve %q: %w", host, ErrBadName)
	}
	if e, ok := r.cache.get(key, r.now()); ok {
		r.hits.Add(1)
		a := e.answer.clone()
		a.Cached = true
		return a, e.err
	}
	// The shared lookup must not die with the first caller's context; it
	// is bounded by the per-query deadlines instead.
	ch := r.group.DoChan(key, func() (any, error) {
		e := r.resolve(context.WithoutCancel(ctx), key)
		return e, nil
	})
	select {
	case <-ctx.Done():
		return Answer{}, fmt.Errorf("resolve %s: %w: %w", host, ErrTemporary, ctx.Err())
	case res := <-ch:
		// The cache and other callers hold the same answer: hand out copies.
		e := res.Val.(cacheEntry)
		return e.answer.clone(), e.err
	}
}

// resolve asks for A and AAAA in parallel, merges them and caches the
// result unless it is a temporary failure.
func (r *Resolver) resolve(ctx context.Context, key string) cacheEntry {
	var v6 familyResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		v6 = r.lookupFamily(ctx, key, mdns.TypeAAAA)
	}()
	v4 := r.lookupFamily(ctx, key, mdns.TypeA)
	<-done

	e, ttl := r.merge(key, v4, v6)
	if !errors.Is(e.err, ErrTemporary) {
		e.expires = r.now().Add(ttl)
		r.cache.put(e)
	}
	return e
}

// merge combines the two families into one answer and the time to cache it.
func (r *Resolver) merge(key string, v4, v6 familyResult) (cacheEntry, time.Duration) {
	host := strings.TrimSuffix(key, ".")
	a := Answer{Host: host, Server: v4.server, CNAMEs: v4.chain}
	if len(a.CNAMEs) == 0 {
		a.CNAMEs = v6.chain
	}
	if a.Server == "" {
		a.Server = v6.server
	}
	a.Addrs = append(append([]netip.Addr(nil), v4.addrs...), v6.addrs...)
	e := cacheEntry{key: key}
	for _, f := range []familyResult{v4, v6} {
		if f.err != nil && !errors.Is(f.err, ErrTemporary) {
			e.answer, e.err = a, f.err
			return e, r.cfg.NegativeTTL
		}
	}
	if len(a.Addrs) > 0 {
		// A family without addresses says nothing about how long the
		// addresses found stay valid.
		ttl := uint32(math.MaxUint32)
		for _, f := range []familyResult{v4, v6} {
			if len(f.addrs) > 0 {
				ttl = min(ttl, f.ttl)
			}
		}
		a.TTL = time.Duration(ttl) * time.Second
		a.Partial = v4.err != nil || v6.err != nil
		e.answer = a
		cacheFor := min(max(a.TTL, r.cfg.MinTTL), r.cfg.MaxTTL)
		if a.Partial {
			cacheFor = min(cacheFor, r.cfg.NegativeTTL)
		}
		return e, cacheFor
	}
	switch {
	case v4.err != nil:
		e.err = fmt.Errorf("resolve %s: %w", host, v4.err)
	case v6.err != nil:
		e.err = fmt.Errorf("resolve %s: %w", host, v6.err)
	case v4.nx || v6.nx:
		e.err = fmt.Errorf("resolve %s: %w", host, ErrNXDomain)
	default:
		e.err = fmt.Errorf("resolve %s: %w", host, ErrNoData)
	}
	a.TTL = time.Duration(min(v4.ttl, v6.ttl)) * time.Second
	e.answer = a
	return e, a.TTL
}
