// Package hostersim is a simulated hoster for re-check tests and load runs:
// an httptest server on loopback whose answer for each path can be switched
// while it runs (content, 404, 410, 451, 5xx, 429, hang, redirect, flap,
// HEAD not allowed, dropped connection), and which counts what it was asked.
// Nothing in production imports it.
package hostersim

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Seen is what the server noted about the last request for a path.
type Seen struct {
	Method    string
	Host      string
	Range     string
	UserAgent string
}

// Server is one simulated hoster. Its methods are safe for concurrent use.
type Server struct {
	ts   *httptest.Server
	quit chan struct{}
	once sync.Once

	mu       sync.RWMutex
	paths    map[string]Behaviour
	fallback Behaviour

	counts sync.Map // path -> *atomic.Int64
	last   sync.Map // path -> Seen

	noPathLog bool

	hostMu   sync.Mutex
	hostIn   map[string]int
	hostMax  map[string]int
	in       atomic.Int64
	maxIn    atomic.Int64
	requests atomic.Int64
}

// Options configures a server started with Listen.
type Options struct {
	// TLS serves https with httptest's certificate (valid for 127.0.0.1,
	// ::1, example.com and *.example.com).
	TLS bool
	// NoPathLog keeps no per-path hit counts or last requests (Hits and
	// Last then report nothing), so a load run over millions of paths
	// does not grow the server's memory with each one.
	NoPathLog bool
}

// New starts a server on a loopback port, over TLS with httptest's
// certificate (valid for 127.0.0.1, ::1, example.com and *.example.com)
// when useTLS. Paths not Set answer 404. The caller must Close it.
func New(useTLS bool) *Server {
	s, err := Listen("127.0.0.1:0", Options{TLS: useTLS})
	if err != nil {
		// Only a loopback port that cannot be had fails, and httptest
		// panics in that case too.
		panic(err)
	}
	return s
}

// Listen starts a server on addr ("127.0.0.1:8080", or port 0 for a free
// one), for programs that print or fix the port. The caller must Close it.
func Listen(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen hoster: %w", err)
	}
	s := &Server{
		quit:      make(chan struct{}),
		paths:     map[string]Behaviour{},
		fallback:  Status(http.StatusNotFound),
		hostIn:    map[string]int{},
		hostMax:   map[string]int{},
		noPathLog: opts.NoPathLog,
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	_ = s.ts.Listener.Close()
	s.ts.Listener = ln
	// Refused handshakes and dropped connections are what tests provoke;
	// they are not worth a line on stderr each.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	return s, nil
}

// Start is New(false) closed when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New(false)
	tb.Cleanup(s.Close)
	return s
}

// StartTLS is New(true) closed when tb ends.
func StartTLS(tb testing.TB) *Server {
	tb.Helper()
	s := New(true)
	tb.Cleanup(s.Close)
	return s
}

// Close releases hanging handlers and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.quit)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// Addr is the listener's "127.0.0.1:port", the target for a prober's
// connect_to map.
func (s *Server) Addr() string {
	return s.ts.Listener.Addr().String()
}

// URL is the server's base URL by address, e.g. "http://127.0.0.1:34567".
func (s *Server) URL() string {
	return s.ts.URL
}

// RootCAs is a pool holding the TLS server's certificate, for a client's
// tls.Config; nil for a plain HTTP server.
func (s *Server) RootCAs() *x509.CertPool {
	if s.ts.TLS == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.ts.Certificate())
	return pool
}

// ClientTLS is a client configuration that trusts this server.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs(), MinVersion: tls.VersionTLS12}
}

// Set switches how path is answered from the next request on.
func (s *Server) Set(path string, b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path] = b
}

// SetDefault switches how paths without their own behaviour are answered;
// one server can so serve many paths fast in a load run.
func (s *Server) SetDefault(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = b
}

// Hits is how many requests path has had.
func (s *Server) Hits(path string) int64 {
	if c, ok := s.counts.Load(path); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// Last is the last request seen for path, and whether there was one.
func (s *Server) Last(path string) (Seen, bool) {
	v, ok := s.last.Load(path)
	if !ok {
		return Seen{}, false
	}
	return v.(Seen), true
}

// Requests is how many requests the server has had, on any path.
func (s *Server) Requests() int64 {
	return s.requests.Load()
}

// MaxInFlight is the most requests this server handled at once.
func (s *Server) MaxInFlight() int64 {
	return s.maxIn.Load()
}

// MaxInFlightHost is the most requests handled at once for one Host
// header (host:port as the client sent it), which is what a prober's
// per-host limit caps.
func (s *Server) MaxInFlightHost(host string) int {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	return s.hostMax[host]
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.enter(r.Host)
	defer s.leave(r.Host)
	path := r.URL.Path
	s.requests.Add(1)
	if !s.noPathLog {
		c, ok := s.counts.Load(path)
		if !ok {
			c, _ = s.counts.LoadOrStore(path, new(atomic.Int64))
		}
		c.(*atomic.Int64).Add(1)
		s.last.Store(path, Seen{Method: r.Method, Host: r.Host, Range: r.Header.Get("Range"), UserAgent: r.UserAgent()})
	}
	s.mu.RLock()
	b, ok := s.paths[path]
	if !ok {
		b = s.fallback
	}
	s.mu.RUnlock()
	b.serve(s, w, r)
}

func (s *Server) enter(host string) {
	in := s.in.Add(1)
	for {
		m := s.maxIn.Load()
		if in <= m || s.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	s.hostIn[host]++
	s.hostMax[host] = max(s.hostMax[host], s.hostIn[host])
}

func (s *Server) leave(host string) {
	s.in.Add(-1)
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	s.hostIn[host]--
}
