package app

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/recheck"
)

// addRecheck wires re-checks: the prober, the schedule stream and its
// consumers, and the start hook the notify stage calls after a notice
// went out. A check on demand is an action (wire_actions.go).
func (a *App) addRecheck(ctx context.Context, retry broker.Retrier) error {
	cfg := a.cfg.Recheck
	log := a.log.With("component", "recheck")
	resolver, err := a.dnsResolver()
	if err != nil {
		return err
	}
	prober, err := probe.New(probeConfig(cfg.Probe), log, a.now, probeResolver{resolver})
	if err != nil {
		return err
	}
	a.cleanup.add("prober", func() error { prober.Close(); return nil })
	r, err := recheck.New(ctx, recheck.Options{
		Config: cfg, Store: a.store, Prober: newMeteredProber(prober, a.metrics), Retry: retry, Log: log, Now: a.now,
		UnresolvableEvery: a.cfg.Enrich.UnresolvableEvery,
	})
	if err != nil {
		return err
	}
	a.addRunner("recheck", r)
	a.checks = r.Scheduler()
	a.onNoticed = func(ctx context.Context, caseID string, at time.Time) error {
		return recheck.Start(ctx, a.store, caseID, at)
	}
	return nil
}

func probeConfig(p config.Probe) probe.Config {
	maxRedirects := p.MaxRedirects
	if maxRedirects == 0 {
		// max_redirects: 0 means none; to probe.Config zero means its default.
		maxRedirects = -1
	}
	return probe.Config{
		UserAgent: p.UserAgent, ProbeTimeout: p.Timeout, MaxRedirects: maxRedirects, MaxBodyBytes: p.MaxBodyBytes,
		PerHostConcurrency: p.PerHostConcurrency, PerHostRate: p.PerHostRate, PerHostBurst: p.PerHostBurst,
		AllowPrivate: p.AllowPrivate, ConnectTo: p.ConnectTo,
	}
}

// probeResolver lets the prober resolve through the daemon's resolver.
type probeResolver struct{ r *dns.Resolver }

// LookupNetIP implements probe.Resolver; a name that does not resolve is
// reported as the prober expects NXDOMAIN (the material is gone).
func (p probeResolver) LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error) {
	ans, err := p.r.Resolve(ctx, host)
	if errors.Is(err, dns.ErrUnresolvable) {
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
	}
	if err != nil {
		return nil, err
	}
	return ans.Addrs, nil
}
