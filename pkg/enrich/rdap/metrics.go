package rdap

import "sync/atomic"

// Stats are the client's counters since it started. (Prometheus metrics
// are left to the caller: client_golang's dependencies are not in go.sum
// yet, and these counters are what a collector would read.)
type Stats struct {
	// Queries is the number of HTTP requests sent to RDAP servers.
	Queries int64
	// MemoryHits and SharedHits count lookups answered by the in-process
	// front and by the shared cache; Misses count lookups that asked.
	MemoryHits, SharedHits, Misses int64
}

type metrics struct {
	queries, memory, shared, misses atomic.Int64
}

func (m *metrics) query(string, error) { m.queries.Add(1) }

func (m *metrics) cache(layer string) {
	switch layer {
	case "memory":
		m.memory.Add(1)
	case "shared":
		m.shared.Add(1)
	default:
		m.misses.Add(1)
	}
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Queries: c.metrics.queries.Load(), MemoryHits: c.metrics.memory.Load(),
		SharedHits: c.metrics.shared.Load(), Misses: c.metrics.misses.Load()}
}
