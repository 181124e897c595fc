package world

import (
	"fmt"
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
// forgives the answer's own latency), and more than the slack after that
// answer went out (before, it may have been on its way), came too early. Requests to a server that is down (connections cut)
// are counted apart and cost no token.
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
	// A Retry-After answered at from asks for no request before until;
	// requests already on their way when it was answered are not early.
	from, until time.Time
	r           PaceReport
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
	// Examples describe the first few violations, for a person to look
	// them up in the daemon's log.
	Examples []string `json:"examples,omitempty"`
}

// maxExamples bounds PaceReport.Examples.
const maxExamples = 5

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
		s = &serverPace{limit: lim, tokens: p.capacity(lim), last: t}
		s.r = PaceReport{Server: host, PerMinute: lim.PerMinute, Burst: lim.Burst, First: t}
		p.servers[host] = s
	}
	s.r.Requests++
	if t.After(s.r.Last) {
		s.r.Last = t
	}
	if !t.Before(s.from.Add(p.slack)) && t.Before(s.until) {
		s.r.Early++
		s.r.EarliestBy = max(s.r.EarliestBy, s.until.Sub(t))
		s.example("%s: asked %s before the Retry-After ran out", t, s.until.Sub(t).Round(time.Millisecond))
	}
	if status == 0 {
		// The server is gone: like a refused connection, the request
		// never reached it and costs it nothing. (Go's transport also
		// sends an idempotent request again by itself when a reused
		// connection drops before an answer, which would count twice.)
		s.r.Dropped++
		return
	}
	if t.After(s.last) {
		s.tokens = min(p.capacity(s.limit), s.tokens+t.Sub(s.last).Seconds()*s.limit.PerMinute/60)
		s.last = t
	}
	// A request beyond the limit takes no token, as a server's limiter
	// refuses it and counts nothing: a burst counts each request beyond
	// what the rate refills, and one bunch of arrivals counts the requests
	// in it, not every request after it while the client goes on at the
	// limit (a debt would never be repaid then).
	if s.tokens < 1 {
		s.r.TooFast++
		s.example("%s: request %d, %.2f tokens left of %.1f", t, s.r.Requests, s.tokens, p.capacity(s.limit))
	} else {
		s.tokens--
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		s.r.Limited++
		answered := p.now()
		if d, ok := retryafter.Parse(ra, answered); ok && d > 0 && t.Add(d).After(s.until) {
			if answered.After(s.until) {
				s.from = answered
			}
			s.until = t.Add(d)
		}
	}
}

func (s *serverPace) example(format string, t time.Time, args ...any) {
	if len(s.r.Examples) < maxExamples {
		s.r.Examples = append(s.r.Examples, fmt.Sprintf(format, append([]any{t.UTC().Format("15:04:05.000")}, args...)...))
	}
}

// capacity is the bucket the arrivals are replayed through: the burst,
// plus one token and the slack's worth of refill for arrival jitter.
func (p *Pace) capacity(l config.RDAPLimit) float64 {
	return float64(max(l.Burst, 1)) + 1 + l.PerMinute/60*p.slack.Seconds()
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
