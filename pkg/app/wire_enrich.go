package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich"
	"github.com/takedownd/takedownd/pkg/enrich/cdn"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/geoip"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
)

// addEnrich wires the enrich stage into the daemon: the resolver, the
// GeoIP databases (with their reload loop), the RDAP client with its cache
// shared through JetStream KV (and its bootstrap refresher when a URL is
// configured), the CDN list and the work consumer.
func (a *App) addEnrich(ctx context.Context, retry broker.Retrier) error {
	cfg := a.cfg.Enrich
	log := a.log.With("component", "enrich")
	if !cfg.Enabled {
		log.Info("enrichment is off in this process")
		return nil
	}
	resolver, err := a.dnsResolver()
	if err != nil {
		return err
	}
	geo, err := geoip.New(geoip.Config{
		CountryPath: cfg.GeoIP.CountryPath, ASNPath: cfg.GeoIP.ASNPath, ReloadInterval: cfg.GeoIP.ReloadInterval,
	}, log.With("part", "geoip"))
	if err != nil {
		return fmt.Errorf("enrich geoip: %w", err)
	}
	if country, asn := geo.Enabled(); !country || !asn {
		log.Info("geoip database missing: addresses get no country or AS from it", "country_db", country, "asn_db", asn)
	}
	a.addRunner("geoip reload", geo)
	kv, err := a.store.EnsureCacheKV(ctx, rdap.BucketConfig(cfg.RDAP.CacheBucket, cfg.RDAP.CacheTTL))
	if err != nil {
		return fmt.Errorf("enrich rdap cache: %w", err)
	}
	// The default transport keeps two idle connections per server: with
	// many workers asking one registry, every other query would pay a TLS
	// handshake.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2 * (cfg.Workers + cfg.EscalationWorkers)
	// The servers' budgets are shared by every replica, and survive a
	// restart.
	limiter, err := rdap.OpenSharedLimiter(ctx, a.store, cfg.RDAP.LimitBucket, a.now)
	if err != nil {
		return fmt.Errorf("enrich rdap limits: %w", err)
	}
	rcfg := rdapConfig(cfg.RDAP)
	rcfg.Limiter = limiter
	registry, err := rdap.New(rcfg, log.With("part", "rdap"), a.now, &http.Client{Transport: transport}, rdap.NewKVCache(kv))
	if err != nil {
		return fmt.Errorf("enrich rdap: %w", err)
	}
	registerLookupStats(a.metrics, resolver, registry)
	if cfg.RDAP.BootstrapURL != "" {
		a.addRunner("rdap bootstrap refresh", registry)
	}
	providers, err := cdn.Load(cdn.Config{Path: cfg.CDN.Path, Mode: cdn.Mode(cfg.CDN.Mode)})
	if err != nil {
		return fmt.Errorf("enrich cdn list: %w", err)
	}
	detector, err := cdn.NewDetector(providers)
	if err != nil {
		return fmt.Errorf("enrich cdn list: %w", err)
	}
	// The contacts people remembered through the API come first where
	// they claim what the file claims (package kvbook says why).
	book := contactbook.Layers{a.contacts}
	if path := cfg.Contacts.Path; path != "" {
		b, err := contactbook.Load(path, path == config.DefaultContactsPath)
		if err != nil {
			return fmt.Errorf("enrich contact book: %w", err)
		}
		log.Info("contact book loaded", "path", path, "entries", b.Len())
		book = append(book, b)
	}
	enricher, err := enrich.New(enrich.Options{
		Resolver: resolver, Registry: registry, Locator: geo, CDN: detector, Contacts: book,
		CountryRule: cfg.CountryRule, MaxAddresses: cfg.MaxAddresses, Log: log, Now: a.now,
		// The background lookups of parked cases: as many at once as the
		// workers would have waited on.
		Prefetch: cfg.Workers,
	})
	if err != nil {
		return err
	}
	stage, err := enrich.NewStage(ctx, enrich.StageConfig{
		Workers: cfg.Workers, AckWait: cfg.AckWait, MaxAttempts: cfg.MaxAttempts,
		Backoff: cfg.Backoff, UnresolvableRetry: cfg.UnresolvableRetry, MaxParked: cfg.MaxParked,
	}, a.store, enricher, log)
	if err != nil {
		return err
	}
	a.addRunner("enrich", stage)
	escalation, err := enrich.NewEscalationStage(ctx, enrich.StageConfig{
		Workers: cfg.EscalationWorkers, AckWait: cfg.AckWait, MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff,
	}, a.store, enricher, log.With("part", "escalate"))
	if err != nil {
		return err
	}
	a.addRunner("escalate", escalation)
	return nil
}

func rdapConfig(c config.EnrichRDAP) rdap.Config {
	// Never nil: the config's limits (defaults included) are the whole
	// list, and rdap would put its own built-in ones in place of a nil map.
	limits := make(map[string]rdap.Limit, len(c.Limits))
	for host, l := range c.Limits {
		limits[host] = rdap.Limit(l)
	}
	return rdap.Config{
		BootstrapURL: c.BootstrapURL, BootstrapRefresh: c.BootstrapRefresh,
		TLDServers: c.TLDServers, Overrides: c.Overrides,
		Limits: limits, DefaultLimit: rdap.Limit(c.DefaultLimit),
		LookupTimeout: c.LookupTimeout, AttemptTimeout: c.AttemptTimeout, MaxAttempts: c.MaxAttempts,
		CacheTTL: c.CacheTTL, NegativeTTL: c.NegativeTTL, UserAgent: c.UserAgent,
	}
}

// dnsResolver is the one caching resolver of the daemon, shared by
// enrichment and the prober, so that both ask the configured servers and a
// re-check's lookup is served from the cache enrichment filled.
func (a *App) dnsResolver() (*dns.Resolver, error) {
	if a.resolver != nil {
		return a.resolver, nil
	}
	cfg := a.cfg.Enrich.DNS
	r, err := dns.New(dns.Config{
		Servers: cfg.Servers, ResolvConf: cfg.ResolvConf, Timeout: cfg.Timeout,
		CacheSize: cfg.CacheSize, MinTTL: cfg.MinTTL, MaxTTL: cfg.MaxTTL, NegativeTTL: cfg.NegativeTTL,
	}, a.log.With("component", "dns"), a.now)
	if err != nil {
		return nil, fmt.Errorf("dns resolver: %w", err)
	}
	a.resolver = r
	return r, nil
}
