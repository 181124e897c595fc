package rdapsim

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault makes a server answer with an error status instead of data.
type Fault struct {
	// Status is the HTTP status to answer, e.g. 429, 503 or 404.
	Status int
	// RetryAfter is sent as the Retry-After header when set: in whole
	// seconds, or as an HTTP date when RetryAfterDate is set (rounded up
	// to the second, so the date is never earlier than RetryAfter).
	RetryAfter     time.Duration
	RetryAfterDate bool
	// Times is how many requests fail before the server recovers; zero or
	// negative means until the fault is cleared.
	Times int
}

// Server is one simulated RDAP server, reachable on loopback, that answers
// under the same base path as the real registry it stands in for.
type Server struct {
	// Name is the registry name, e.g. "arin".
	Name string
	// RealBase is the base URL of the real server, e.g. "https://rdap.arin.net/registry/".
	RealBase string

	http     *httptest.Server // nil when the Sim serves all from one listener
	url      string           // scheme://host:port (and /<name> on a shared listener)
	basePath string
	queries  atomic.Int64
	now      func() time.Time

	logMu sync.Mutex
	log   []Request

	mu       sync.Mutex
	latency  time.Duration
	fault    Fault
	objects  map[string][]byte // "ip/1.2.3.4", "domain/google.com", "entity/x", "autnum/1"
	networks map[netip.Prefix][]byte
}

// Base returns the loopback base URL, ending in a slash.
func (s *Server) Base() string { return s.url + s.basePath }

// Request is one request a server received, when it arrived and how it
// was answered, for tests that check the pace clients keep.
type Request struct {
	At     time.Time
	Path   string
	Status int
}

// maxLog bounds the request log; older entries are dropped.
const maxLog = 100_000

// Requests returns the requests received so far (the last 100,000), in
// order of arrival.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) record(r Request) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.log) >= maxLog {
		s.log = append(s.log[:0], s.log[len(s.log)-maxLog/2:]...)
	}
	s.log = append(s.log, r)
}

// Queries returns how many requests the server received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ResetQueries sets the query counter back to zero.
func (s *Server) ResetQueries() { s.queries.Store(0) }

// SetLatency delays every answer by d (respecting the request's context).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFault makes the server fail as f says; the zero Fault clears it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *Server) putObject(key string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = body
}

func (s *Server) putNetwork(p netip.Prefix, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.networks[p.Masked()] = body
}

// takeFault returns the status to fail with (0 for none) and consumes one
// use of a counted fault.
func (s *Server) takeFault() (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault
	if f.Status != 0 && f.Times > 0 {
		s.fault.Times--
		if s.fault.Times == 0 {
			s.fault = Fault{}
		}
	}
	return f, s.latency
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.queries.Add(1)
	arrived := s.now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.record(Request{At: arrived, Path: r.URL.Path, Status: rec.status}) }()
	s.serve(rec, r, arrived)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, arrived time.Time) {
	f, latency := s.takeFault()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.Status != 0 {
		switch {
		case f.RetryAfter > 0 && f.RetryAfterDate:
			at := arrived.Add(f.RetryAfter + time.Second - 1).Truncate(time.Second)
			w.Header().Set("Retry-After", at.UTC().Format(http.TimeFormat))
		case f.RetryAfter > 0:
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
		}
		writeError(w, f.Status)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.basePath)
	if !ok {
		writeError(w, http.StatusNotFound)
		return
	}
	body := s.find(rest)
	if body == nil {
		writeError(w, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/rdap+json")
	_, _ = w.Write(body)
}

// find returns the object stored for path "kind/key"; IP queries also match
// any synthetic network that covers the address, most specific first.
func (s *Server) find(path string) []byte {
	kind, key, _ := strings.Cut(path, "/")
	key = strings.ToLower(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if body, ok := s.objects[kind+"/"+key]; ok {
		return body
	}
	if kind != "ip" {
		return nil
	}
	// "ip/<addr>" or "ip/<addr>/<len>" (RFC 9082 3.1.1): the most specific
	// network that holds all of the query.
	q, err := netip.ParsePrefix(key)
	if err != nil {
		addr, err := netip.ParseAddr(key)
		if err != nil {
			return nil
		}
		q = netip.PrefixFrom(addr, addr.BitLen())
	}
	for bits := q.Bits(); bits >= 0; bits-- {
		p, _ := q.Addr().Prefix(bits)
		if body, ok := s.networks[p]; ok {
			return body
		}
	}
	return nil
}

func writeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/rdap+json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"rdapConformance":["rdap_level_0"],"errorCode":` + strconv.Itoa(status) +
		`,"title":"` + http.StatusText(status) + `"}`))
}
