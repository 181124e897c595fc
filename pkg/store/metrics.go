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

func newMetrics(reg prometheus.Registerer, ix *caseIndex, pending *pendingCases, u *storageUsage) *metrics {
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
		reg.MustRegister(m.events, m.deadLetters, casesByState{ix, u}, storageMetrics{u}, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "takedownd_cases_events_pending",
			Help: "Cases with events of a committed change not yet on their trail, as this replica's case index sees them; the outbox sweep appends them, so a value that stays up means the events stream refuses appends.",
		}, func() float64 { return float64(pending.count()) }))
	}
	return m
}

// casesByState reports the case index's counts at scrape time. Closed
// cases are not in the index (caseindex.go): they are the cases in the
// bucket that are not open, as the last storage check counted them.
type casesByState struct {
	ix *caseIndex
	u  *storageUsage
}

var casesDesc = prometheus.NewDesc("takedownd_cases", "Cases by state, as this replica's case index sees them (closed: the cases bucket's entries that are not open, at the last storage check).", []string{"state"}, nil)

func (c casesByState) Describe(ch chan<- *prometheus.Desc) { ch <- casesDesc }

func (c casesByState) Collect(ch chan<- prometheus.Metric) {
	counts := map[takedown.State]int{}
	c.ix.mu.RLock()
	for _, st := range c.ix.state {
		counts[st]++
	}
	open := len(c.ix.state)
	c.ix.mu.RUnlock()
	for _, r := range c.u.snapshot() {
		if r.Name == "KV_"+CasesBucket && r.Read && r.Msgs > uint64(open) {
			counts[takedown.StateClosed] = int(r.Msgs) - open
		}
	}
	for _, st := range takedown.States {
		ch <- prometheus.MustNewConstMetric(casesDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

// storageMetrics reports the last storage check (limits.go) at scrape
// time: every stream's and bucket's usage and limit, and the dead-letter
// stream's under names of its own, since it is the one anybody outside
// can fill.
type storageMetrics struct{ u *storageUsage }

var (
	storageBytesDesc    = prometheus.NewDesc("takedownd_storage_bytes", "Bytes a stream or bucket holds (KV_<bucket> for buckets), at the last storage check.", []string{"stream"}, nil)
	storageMsgsDesc     = prometheus.NewDesc("takedownd_storage_messages", "Messages a stream or bucket holds, at the last storage check.", []string{"stream"}, nil)
	storageLimitDesc    = prometheus.NewDesc("takedownd_storage_limit_bytes", "The size limit of a stream or bucket (storage.max_bytes).", []string{"stream"}, nil)
	deadLetterBytesDesc = prometheus.NewDesc("takedownd_dead_letters_bytes", "Bytes the dead-letter stream holds; the oldest go when it reaches takedownd_dead_letters_limit_bytes.", nil, nil)
	deadLetterMsgsDesc  = prometheus.NewDesc("takedownd_dead_letters_messages", "Dead letters kept.", nil, nil)
	deadLetterLimitDesc = prometheus.NewDesc("takedownd_dead_letters_limit_bytes", "The dead-letter stream's size limit (storage.max_bytes.dead_letters).", nil, nil)
)

func (m storageMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storageBytesDesc, storageMsgsDesc, storageLimitDesc, deadLetterBytesDesc, deadLetterMsgsDesc, deadLetterLimitDesc} {
		ch <- d
	}
}

func (m storageMetrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, r := range m.u.snapshot() {
		gauge(storageLimitDesc, float64(r.Limit.MaxBytes), r.Name)
		if r.Name == DLQStream {
			gauge(deadLetterLimitDesc, float64(r.Limit.MaxBytes))
		}
		if !r.Read {
			continue
		}
		gauge(storageBytesDesc, float64(r.Bytes), r.Name)
		gauge(storageMsgsDesc, float64(r.Msgs), r.Name)
		if r.Name == DLQStream {
			gauge(deadLetterBytesDesc, float64(r.Bytes))
			gauge(deadLetterMsgsDesc, float64(r.Msgs))
		}
	}
}
