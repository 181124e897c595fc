package rdap

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openrdap/rdap"
	"golang.org/x/sync/singleflight"
)

// Config holds the client's settings; zero values take the defaults named.
type Config struct {
	// BootstrapURL is where fresh IANA bootstrap files are fetched from
	// (ipv4.json, ipv6.json, dns.json, asn.json below it), e.g.
	// "https://data.iana.org/rdap/". Empty disables refreshing.
	BootstrapURL string
	// BootstrapRefresh is the refresh interval (default 24 h).
	BootstrapRefresh time.Duration
	// TLDServers maps a TLD (or any domain suffix) to an RDAP base URL, for
	// TLDs the bootstrap lacks; it wins over the bootstrap.
	TLDServers map[string]string
	// Overrides maps a base URL (prefix) or a bare host to a replacement
	// base URL, for private mirrors and tests. The key "*" catches every
	// server no other key names (a proxy, or the simulation in tests).
	Overrides map[string]string
	// Limits is the politeness budget per server host (default
	// DefaultLimits); DefaultLimit applies to other hosts (default 60 a
	// minute, burst 5).
	Limits       map[string]Limit
	DefaultLimit Limit
	// Limiter keeps the budgets; nil keeps them in this process alone.
	// Replicas share one SharedLimiter, or each would spend the whole
	// budget of every server.
	Limiter Limiter
	// LookupTimeout bounds a whole lookup including retries (default 60 s);
	// AttemptTimeout bounds one request (default 15 s).
	LookupTimeout  time.Duration
	AttemptTimeout time.Duration
	// MaxAttempts per request over https (default 4); BackoffBase and
	// BackoffMax shape the exponential backoff (default 500 ms, 30 s);
	// MaxRetryAfter caps how long a Retry-After may hold us (default 2 min).
	MaxAttempts   int
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	MaxRetryAfter time.Duration
	// CacheTTL is how long the in-process front keeps answers (default
	// DefaultCacheTTL); MemoryEntries bounds it (default 50,000).
	CacheTTL      time.Duration
	MemoryEntries int
	// NegativeTTL is how long a "no such object" (404) answer is kept, in
	// both cache layers (default DefaultNegativeTTL): shorter than answers,
	// since a new registration should show up the same day.
	NegativeTTL time.Duration
	// UserAgent is sent with every request.
	UserAgent string
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BootstrapRefresh, 24*time.Hour)
	def(&c.LookupTimeout, 60*time.Second)
	def(&c.AttemptTimeout, 15*time.Second)
	def(&c.BackoffBase, 500*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	def(&c.MaxRetryAfter, 2*time.Minute)
	def(&c.CacheTTL, DefaultCacheTTL)
	def(&c.NegativeTTL, min(DefaultNegativeTTL, c.CacheTTL))
	if c.Limits == nil {
		c.Limits = DefaultLimits()
	}
	if c.DefaultLimit.PerMinute <= 0 {
		c.DefaultLimit = Limit{PerMinute: 60, Burst: 5}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 4
	}
	if c.MemoryEntries <= 0 {
		c.MemoryEntries = 50_000
	}
	if c.UserAgent == "" {
		c.UserAgent = "takedownd"
	}
	return c
}

// Client looks up networks and domains. It is safe for concurrent use.
type Client struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	http    *http.Client
	cache   Cache
	mem     *memCache
	metrics *metrics
	regs    atomic.Pointer[registries]
	flight  singleflight.Group
	limiter Limiter
}

// New returns a client. httpClient may be nil (a default one is used);
// cache may be nil (answers are then kept only in process).
func New(cfg Config, log *slog.Logger, now func() time.Time, httpClient *http.Client, cache Cache) (*Client, error) {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	cfg = cfg.withDefaults()
	regs, err := embeddedRegistries()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: log, now: now, http: httpClient, cache: cache, metrics: &metrics{},
		mem: newMemCache(cfg.MemoryEntries, cfg.CacheTTL, now), limiter: cfg.Limiter}
	if c.limiter == nil {
		c.limiter = newLocalLimiter(now)
	}
	c.regs.Store(regs)
	return c, nil
}

// LookupIP returns the network that holds addr. IPv4-mapped IPv6 addresses
// are looked up as IPv4. errors.Is(err, ErrNotFound) means no data.
func (c *Client) LookupIP(ctx context.Context, addr netip.Addr) (*Network, error) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return nil, fmt.Errorf("rdap lookup ip: %w", errMalformed)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	if n := c.cachedNetwork(ctx, addr); n != nil {
		return n, nil
	}
	if c.isMissing(ctx, missIP(addr)) {
		return nil, fmt.Errorf("rdap lookup ip: %w", ErrNotFound)
	}
	// Concurrent lookups of addresses in the same /24 (/48) share one
	// query: usually one network holds them all. If it does not, the
	// address gets a query of its own.
	bucket, _ := addr.Prefix(24)
	if addr.Is6() {
		bucket, _ = addr.Prefix(48)
	}
	n, err := c.lookupNetwork(ctx, "ip:"+bucket.String(), addr)
	if err == nil && !n.Contains(addr) {
		n, err = c.lookupNetwork(ctx, "ip:"+addr.String(), addr)
	}
	if err != nil {
		return nil, fmt.Errorf("rdap lookup ip: %w", err)
	}
	return n, nil
}

func (c *Client) lookupNetwork(ctx context.Context, key string, addr netip.Addr) (*Network, error) {
	v, err, _ := c.flight.Do(key, func() (any, error) {
		if n := c.cachedNetwork(ctx, addr); n != nil && n.Contains(addr) {
			return n, nil
		}
		c.metrics.cache("miss")
		base, err := c.baseForIP(addr.String(), addr.Is4())
		if err != nil {
			return nil, err
		}
		obj, host, err := c.get(ctx, base+"ip/"+addr.String(), "ip network")
		if err != nil {
			c.remember(ctx, missIP(addr), err)
			return nil, err
		}
		ipn, ok := obj.(*rdap.IPNetwork)
		if !ok {
			return nil, &Error{Server: host, Err: fmt.Errorf("want ip network, got %T: %w", obj, errMalformed)}
		}
		n := c.network(ctx, ipn, addr, host)
		c.store(ctx, n, nil)
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Network), nil
}

// network turns a decoded answer into our result.
func (c *Client) network(ctx context.Context, ipn *rdap.IPNetwork, addr netip.Addr, host string) *Network {
	n := buildNetwork(ctx, ipn, addr, host, c.fetchEntity)
	n.FetchedAt = c.now()
	return n
}

// buildNetwork is the extraction the client and the fixture tests share;
// fetch may be nil (stub entities then stay unresolved).
func buildNetwork(ctx context.Context, ipn *rdap.IPNetwork, addr netip.Addr, host string, fetch entityFetcher) *Network {
	n := &Network{Handle: ipn.Handle, Name: ipn.Name, Type: ipn.Type, Country: ipn.Country,
		Parent: ipn.ParentHandle, ParentPrefix: upPrefix(ipn.Links, addr), Server: host}
	networkRange(n, ipn, addr)
	n.Contacts = abuseContacts(ctx, host, ipn.Handle, ipn.Entities, ipn.Remarks, nil, true, fetch)
	return n
}

// LookupDomain returns the registry's answer for a registrable domain,
// completed by the registrar's own RDAP server when the registry links to it.
func (c *Client) LookupDomain(ctx context.Context, name string) (*Domain, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return nil, fmt.Errorf("rdap lookup domain: %w", errMalformed)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	v, err, _ := c.flight.Do("domain:"+name, func() (any, error) {
		return c.lookupDomain(ctx, name)
	})
	if err != nil {
		return nil, fmt.Errorf("rdap lookup domain: %w", err)
	}
	return v.(*Domain), nil
}

func (c *Client) lookupDomain(ctx context.Context, name string) (*Domain, error) {
	if d := c.mem.domain(name); d != nil {
		c.metrics.cache("memory")
		return d, nil
	}
	if c.cache != nil {
		d, err := c.cache.Domain(ctx, name)
		if err != nil {
			c.log.Warn("rdap cache get", "err", err)
		} else if d != nil {
			c.metrics.cache("shared")
			c.mem.putDomain(d)
			return d, nil
		}
	}
	if c.isMissing(ctx, missDomain(name)) {
		return nil, ErrNotFound
	}
	c.metrics.cache("miss")
	base, err := c.baseForDomain(name)
	if err != nil {
		return nil, err
	}
	obj, host, err := c.get(ctx, base+"domain/"+name, "domain")
	if err != nil {
		c.remember(ctx, missDomain(name), err)
		return nil, err
	}
	dom, ok := obj.(*rdap.Domain)
	if !ok {
		return nil, &Error{Server: host, Err: fmt.Errorf("want domain, got %T: %w", obj, errMalformed)}
	}
	d := &Domain{Name: name, Handle: dom.Handle, Server: host, FetchedAt: c.now(),
		Registrar: registrarOf(ctx, host, dom.Handle, dom.Entities, c.fetchEntity),
		Contacts:  domainContacts(ctx, host, dom.Handle, dom.Entities, c.fetchEntity)}
	if link := relatedRDAP(dom.Links); link != "" {
		c.followRegistrar(ctx, d, link)
	}
	c.store(ctx, nil, d)
	return d, nil
}

// followRegistrar adds the registrar server's answer. Its failure leaves
// the registry's answer standing: that already names the registrar.
func (c *Client) followRegistrar(ctx context.Context, d *Domain, link string) {
	obj, host, err := c.get(ctx, link, "domain")
	if err != nil {
		c.log.Debug("rdap registrar follow-up", "server", host, "err", err)
		return
	}
	dom, ok := obj.(*rdap.Domain)
	if !ok {
		return
	}
	reg := registrarOf(ctx, host, dom.Handle, dom.Entities, c.fetchEntity)
	if d.Registrar == nil {
		d.Registrar = &Registrar{}
	}
	d.Registrar.Server = host
	if reg != nil {
		if d.Registrar.Name == "" {
			d.Registrar.Name = reg.Name
		}
		if d.Registrar.IANAID == "" {
			d.Registrar.IANAID = reg.IANAID
		}
		d.Registrar.Contacts = mergeContacts(d.Registrar.Contacts, reg.Contacts)
	}
	d.Contacts = mergeContacts(d.Contacts, domainContacts(ctx, host, dom.Handle, dom.Entities, c.fetchEntity))
}

// mergeContacts joins the registry's and the registrar server's contacts:
// better kinds first (an abuse entity at either server beats a vCard
// address at the other), then in the order given, each address once.
func mergeContacts(a, b []Contact) []Contact {
	all := append(append([]Contact(nil), a...), b...)
	slices.SortStableFunc(all, func(x, y Contact) int { return kindRank(x.Kind) - kindRank(y.Kind) })
	var out contactList
	for _, ct := range all {
		out.add(ct)
	}
	return out.list
}

// fetchEntity fetches a stub entity by its self link, once per link for
// concurrent callers; the answers it completes are cached in turn.
func (c *Client) fetchEntity(ctx context.Context, href string) (*rdap.Entity, error) {
	v, err, _ := c.flight.Do("entity:"+href, func() (any, error) {
		obj, host, err := c.get(ctx, href, "entity")
		if err != nil {
			return nil, err
		}
		e, ok := obj.(*rdap.Entity)
		if !ok {
			return nil, &Error{Server: host, Err: fmt.Errorf("want entity, got %T: %w", obj, errMalformed)}
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*rdap.Entity), nil
}
