package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// addRecheck wires re-checks: the prober, the schedule stream and its
// consumers, the start hook the notify stage calls after a notice went
// out, and POST /v1/cases/{id}/check for a check on demand.
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
	a.api.Handle(api.Route{Method: http.MethodPost, Path: "/v1/cases/{id}/check", Roles: api.Checkers,
		Summary: "an immediate re-check (202; 409 when the case is not being checked)"}, a.requestCheck)
	return nil
}

// requestCheck asks for an immediate check; it answers 202 once the
// request is queued, since a probe may take up to the probe timeout. A
// check of an unresolvable case is a fresh attempt at resolving it.
func (a *App) requestCheck(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c, _, err := a.store.GetCase(r.Context(), id)
	if err != nil {
		return err
	}
	if !recheck.Checkable(c) && c.State != takedown.StateUnresolvable {
		return api.Errorf(http.StatusConflict, "case %s is %s: nothing to check", id, c.State)
	}
	if err := recheck.RequestCheck(r.Context(), a.store, id, api.Caller(r)); err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusAccepted, map[string]string{"case_id": id, "status": "check requested"})
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
