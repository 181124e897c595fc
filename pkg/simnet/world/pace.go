package world

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/retryafter"
)

// Pace checks how clients pace their requests to each simulated RDAP
// server, against the limit the registry publishes and the Retry-After
// it answered with. Arrivals are replayed through a token bucket of the
// published rate; a request the bucket has no token for was asked faster
// than the limit. The bucket holds the burst plus a slack for arrival
// jitter (one token plus what the rate refills in the slack time), since
// two requests sent the right time apart may arrive closer together on a
// busy machine. A request that arrives before the Retry-After of an
// earlier answer ran out (counted from that request's arrival, which
// forgives the answer's own latency) came too early.
type Pace struct {
	limits map[string]config.RDAPLimit
	def    config.RDAPLimit
	slack  time.Duration
	now    func() time.Time

	mu      sync.Mutex
	servers map[string]*serverPace
}

// serverPace is one server's record.
type serverPace struct {
	limit  config.RDAPLimit
	tokens float64
	last   time.Time
	until  time.Time // no request before this (Retry-After)
	r      PaceReport
}

// PaceReport is what one server saw.
type PaceReport struct {
	// Server is the real host the server stands in for.
	Server string `json:"server"`
	// PerMinute and Burst are the published limit checked against.
	PerMinute float64 `json:"per_minute"`
	Burst     int     `json:"burst"`
	Requests  int64   `json:"requests"`
	// Limited are answers with 429 or 503; Dropped connections cut
	// while the server was down.
	Limited int64 `json:"limited"`
	Dropped int64 `json:"dropped"`
	// TooFast are requests beyond what the limit allows; Early are
	// requests before a Retry-After ran out, EarliestBy the most one
	// came early by.
	TooFast    int64         `json:"too_fast"`
	Early      int64         `json:"early"`
	EarliestBy time.Duration `json:"earliest_by"`
	// First and Last are the first and last arrival.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func newPace(limits map[string]config.RDAPLimit, def config.RDAPLimit, slack time.Duration, now func() time.Time) *Pace {
	return &Pace{limits: limits, def: def, slack: slack, now: now, servers: map[string]*serverPace{}}
}

// observe records one request that arrived at t and was answered with
// status and Retry-After header ra (status 0: the connection was cut).
func (p *Pace) observe(host string, t time.Time, status int, ra string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.servers[host]
	if s == nil {
		lim, ok := p.limits[host]
		if !ok {
			lim = p.def
		}
		s = &serverPace{limit: lim, tokens: float64(max(lim.Burst, 1)), last: t}
		s.r = PaceReport{Server: host, PerMinute: lim.PerMinute, Burst: lim.Burst, First: t}
		p.servers[host] = s
	}
	s.r.Requests++
	if t.After(s.r.Last) {
		s.r.Last = t
	}
	if t.Before(s.until) {
		s.r.Early++
		s.r.EarliestBy = max(s.r.EarliestBy, s.until.Sub(t))
	}
	rate := s.limit.PerMinute / 60
	capacity := float64(max(s.limit.Burst, 1)) + 1 + rate*p.slack.Seconds()
	if t.After(s.last) {
		s.tokens = min(capacity, s.tokens+t.Sub(s.last).Seconds()*rate)
		s.last = t
	}
	if s.tokens < 1 {
		s.r.TooFast++
	}
	// A request beyond the limit leaves a debt, so a long burst counts
	// every request in it, not one.
	s.tokens--
	switch {
	case status == 0:
		s.r.Dropped++
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		s.r.Limited++
		if d, ok := retryafter.Parse(ra, p.now()); ok && d > 0 && t.Add(d).After(s.until) {
			s.until = t.Add(d)
		}
	}
}

// Report returns every server's record, by server name.
func (p *Pace) Report() []PaceReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PaceReport, 0, len(p.servers))
	for _, s := range p.servers {
		out = append(out, s.r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out
}

// Requests is the number of RDAP requests all servers received.
func (p *Pace) Requests() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, s := range p.servers {
		n += s.r.Requests
	}
	return n
}
