package store

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// metrics are what the store counts for every stage: it is the one place
// every event and every dead letter passes.
type metrics struct {
	events      *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, ix *caseIndex, pending *pendingCases) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "takedownd_events_total",
			Help: "Events appended to case timelines, by type (received, enriched, noticed, checked, removed …).",
		}, []string{"type"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "takedownd_dead_letters_total",
			Help: "Messages rejected into the dead-letter stream, by kind.",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.deadLetters, casesByState{ix}, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "takedownd_cases_events_pending",
			Help: "Cases with events of a committed change not yet on their trail, as this replica's case index sees them; the outbox sweep appends them, so a value that stays up means the events stream refuses appends.",
		}, func() float64 { return float64(pending.count()) }))
	}
	return m
}

// casesByState reports the case index's counts at scrape time.
type casesByState struct{ ix *caseIndex }

var casesDesc = prometheus.NewDesc("takedownd_cases", "Cases by state, as this replica's case index sees them.", []string{"state"}, nil)

func (c casesByState) Describe(ch chan<- *prometheus.Desc) { ch <- casesDesc }

func (c casesByState) Collect(ch chan<- prometheus.Metric) {
	counts := map[takedown.State]int{}
	c.ix.mu.RLock()
	for _, st := range c.ix.state {
		counts[st]++
	}
	c.ix.mu.RUnlock()
	for _, st := range takedown.States {
		ch <- prometheus.MustNewConstMetric(casesDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
