package app

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/takedownd/takedownd/pkg/enrich/dns"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/recheck"
)

// newRegistry is the daemon's own metrics registry (never the global
// one, so two daemons in one test process do not collide), with the Go
// runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsHandler serves GET /metrics. It carries counts only — no URL, no
// case id — so, like /healthz, it needs no token.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// registerLookupStats exposes the counters the DNS resolver and the RDAP
// client keep themselves.
func registerLookupStats(reg prometheus.Registerer, d *dns.Resolver, r *rdap.Client) {
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		counter("takedownd_dns_queries_total", "DNS queries sent (cache misses).", func() float64 { return float64(d.Stats().Queries) }),
		counter("takedownd_dns_cache_hits_total", "DNS answers served from the cache.", func() float64 { return float64(d.Stats().CacheHits) }),
		counter("takedownd_rdap_queries_total", "RDAP queries sent to registries.", func() float64 { return float64(r.Stats().Queries) }),
		counter("takedownd_rdap_cache_hits_total", "RDAP answers served from the memory or the shared KV cache.", func() float64 {
			st := r.Stats()
			return float64(st.MemoryHits + st.SharedHits)
		}),
	)
}

// meteredMailer counts what the relay answered per recipient and how long
// a message took.
type meteredMailer struct {
	notify.Mailer
	outcomes *prometheus.CounterVec
	seconds  prometheus.Histogram
}

func newMeteredMailer(m notify.Mailer, reg prometheus.Registerer) *meteredMailer {
	mm := &meteredMailer{
		Mailer: m,
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "takedownd_mail_recipients_total",
			Help: "Recipients of notices handed to the relay, by outcome (accepted, temporary, permanent).",
		}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "takedownd_mail_send_seconds", Help: "Time to hand one notice to the relay.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}),
	}
	reg.MustRegister(mm.outcomes, mm.seconds)
	return mm
}

func (m *meteredMailer) Send(ctx context.Context, from string, rcpts []string, msg []byte) smtp.Result {
	start := time.Now()
	res := m.Mailer.Send(ctx, from, rcpts, msg)
	m.seconds.Observe(time.Since(start).Seconds())
	for _, r := range res.Recipients {
		m.outcomes.WithLabelValues(r.Outcome.String()).Inc()
	}
	return res
}

// meteredProber counts probe verdicts and reasons and times the probes.
type meteredProber struct {
	recheck.Prober
	verdicts *prometheus.CounterVec
	seconds  prometheus.Histogram
}

func newMeteredProber(p recheck.Prober, reg prometheus.Registerer) *meteredProber {
	mp := &meteredProber{
		Prober: p,
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "takedownd_probes_total",
			Help: "Re-check probes, by verdict (online, gone, inconclusive) and reason (http_404, nxdomain, timeout …).",
		}, []string{"verdict", "reason"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "takedownd_probe_seconds", Help: "Duration of one probe.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 8),
		}),
	}
	reg.MustRegister(mp.verdicts, mp.seconds)
	return mp
}

func (m *meteredProber) Probe(ctx context.Context, req probe.Request) probe.Result {
	res := m.Prober.Probe(ctx, req)
	m.verdicts.WithLabelValues(string(res.Verdict), res.Reason).Inc()
	m.seconds.Observe(res.Duration.Seconds())
	return res
}
