package reconcile

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Registerer is where the reconciler's metrics go (a Prometheus
// registry); nil registers nothing.
type Registerer = prometheus.Registerer

type metrics struct {
	without  prometheus.Gauge
	repairs  *prometheus.CounterVec
	passes   prometheus.Counter
	lastPass prometheus.Gauge
}

func newMetrics(reg Registerer) (*metrics, error) {
	m := &metrics{
		without: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "takedownd_cases_without_next_step",
			Help: "Open cases without a next step (no pending work, no pending check, no reason in a person's queue) at the last reconcile pass, whichever replica ran it. Each is repaired; a value that stays up means a repair cannot take.",
		}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "takedownd_reconcile_repairs_total",
			Help: "Next steps the reconciler asked for, by what was missing (enrich, route, notice, retry, check, reason).",
		}, []string{"missing"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "takedownd_reconcile_passes_total",
			Help: "Reconcile passes this replica ran (one replica at a time holds the lease).",
		}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "takedownd_reconcile_last_pass_timestamp_seconds",
			Help: "When the last reconcile pass ended, whichever replica ran it (Unix time).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.without, m.repairs, m.passes, m.lastPass} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register reconcile metrics: %w", err)
		}
	}
	return m, nil
}

// pass shows the result of a pass this replica ran.
func (m *metrics) pass(res Result) {
	m.passes.Inc()
	m.show(&res)
}

// show shows the result of the last pass, this replica's or the lease
// holder's.
func (m *metrics) show(res *Result) {
	if res == nil {
		return
	}
	m.without.Set(float64(res.Without))
	if !res.At.IsZero() {
		m.lastPass.Set(float64(res.At.Unix()))
	}
}
