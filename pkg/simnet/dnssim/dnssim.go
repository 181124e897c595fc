// Package dnssim is a programmable DNS server on loopback for tests and load
// tools: it stands in for the recursive resolver takedownd asks in
// production. Nothing in production imports it.
//
// The zone is changed at run time: A, AAAA and CNAME records with TTLs, and a
// per-name Mode that makes the name answer NXDOMAIN, SERVFAIL, REFUSED, a
// truncated UDP reply, or nothing at all. By default the server behaves like
// a recursive resolver and follows CNAMEs inside its zone; ChaseCNAMEs(false)
// makes it return the bare CNAME so the client has to chase.
package dnssim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Mode says how the server answers queries for one name.
type Mode int

// The answer modes a name can be switched to.
const (
	// ModeAnswer answers from the zone; names without records get NXDOMAIN.
	ModeAnswer Mode = iota
	// ModeNXDomain answers NXDOMAIN even if the name has records.
	ModeNXDomain
	// ModeServFail answers SERVFAIL.
	ModeServFail
	// ModeRefused answers REFUSED.
	ModeRefused
	// ModeTimeout never answers, so the client runs into its deadline.
	ModeTimeout
	// ModeTruncate answers UDP queries with an empty truncated reply (TC bit)
	// and TCP queries in full, as a server does for an oversized answer.
	ModeTruncate
)

// SOAMinimum is the negative-caching TTL (RFC 2308) the server puts in the
// SOA record of NXDOMAIN and NODATA answers unless SetSOAMinimum changes it.
const SOAMinimum = 300

// Server is a running DNS server on loopback serving UDP and TCP on the
// same port. All methods are safe for concurrent use.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu         sync.RWMutex
	records    map[string][]dns.RR // by lower-case FQDN
	modes      map[string]Mode
	chase      bool
	soaMinimum uint32
	perName    map[string]int
	held       map[string]chan struct{}
	latency    time.Duration

	queries atomic.Int64
}

// Start runs a server and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("start dns server: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// New runs a server on a random loopback port until Close is called.
func New() (*Server, error) { return Listen("127.0.0.1:0") }

// Listen runs a server on addr ("127.0.0.1:5353"; port 0 picks a free
// port that UDP and TCP share) until Close is called. It is how a program
// such as takedownsim puts the server on a port it prints.
func Listen(addr string) (*Server, error) {
	s := &Server{
		records:    map[string][]dns.RR{},
		modes:      map[string]Mode{},
		perName:    map[string]int{},
		held:       map[string]chan struct{}{},
		chase:      true,
		soaMinimum: SOAMinimum,
	}
	// The TCP listener picks the port; UDP must share it so a client that
	// falls back to TCP after truncation reaches the same server.
	var (
		ln  net.Listener
		pc  net.PacketConn
		err error
	)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("parse dns listen address: %w", err)
	}
	tries := 20
	if port != "0" {
		tries = 1 // a fixed port either is free for both or is not
	}
	for range tries {
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen tcp: %w", err)
		}
		pc, err = net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			break
		}
		_ = ln.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("listen udp: %w", err)
	}
	s.addr = ln.Addr().String()
	handler := func(net string) dns.HandlerFunc {
		return func(w dns.ResponseWriter, q *dns.Msg) { s.serve(w, q, net) }
	}
	s.udp = &dns.Server{PacketConn: pc, Handler: handler("udp")}
	s.tcp = &dns.Server{Listener: ln, Handler: handler("tcp")}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	<-started
	<-started
	return s, nil
}

// Addr is the host:port both transports listen on.
func (s *Server) Addr() string { return s.addr }

// Close stops both transports.
func (s *Server) Close() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

// Queries is the number of queries received so far, including ones that
// were never answered.
func (s *Server) Queries() int64 { return s.queries.Load() }

// QueriesFor is the number of queries received for name, any type.
func (s *Server) QueriesFor(name string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.perName[fqdn(name)]
}

// AddAddr adds A or AAAA records (by address family) for name.
func (s *Server) AddAddr(name string, ttl uint32, addrs ...netip.Addr) {
	name = fqdn(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range addrs {
		s.records[name] = append(s.records[name], addrRR(name, ttl, a))
	}
}

// SetAddrs replaces every record of name with A or AAAA records for addrs,
// in one step, so a host that moves never answers NXDOMAIN in between.
func (s *Server) SetAddrs(name string, ttl uint32, addrs ...netip.Addr) {
	name = fqdn(name)
	rrs := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		rrs = append(rrs, addrRR(name, ttl, a))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[name] = rrs
}

// AddCNAME points name at target.
func (s *Server) AddCNAME(name, target string, ttl uint32) {
	name = fqdn(name)
	rr := &dns.CNAME{
		Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
		Target: fqdn(target),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[name] = append(s.records[name], rr)
}

// AddTXT adds a TXT record; it exists to make a name present without
// addresses (NODATA for A and AAAA) and to blow up answers past 512 bytes.
func (s *Server) AddTXT(name string, ttl uint32, txt ...string) {
	name = fqdn(name)
	rr := &dns.TXT{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
		Txt: txt,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[name] = append(s.records[name], rr)
}

// Remove deletes every record of name and resets its mode.
func (s *Server) Remove(name string) {
	name = fqdn(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, name)
	delete(s.modes, name)
}

// SetMode switches how name is answered from now on.
func (s *Server) SetMode(name string, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modes[fqdn(name)] = m
}

// ChaseCNAMEs turns in-zone CNAME following on (the default, like a
// recursive resolver) or off (like an authoritative server for another zone).
func (s *Server) ChaseCNAMEs(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chase = on
}

// SetSOAMinimum sets the negative-caching TTL of NXDOMAIN and NODATA answers.
func (s *Server) SetSOAMinimum(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soaMinimum = ttl
}

// SetLatency delays every answer by d, as a distant resolver would.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Hold makes queries for name wait (after being counted) until release is
// called, so a test can line up concurrent lookups deterministically.
// Calling release again does nothing.
func (s *Server) Hold(name string) (release func()) {
	name = fqdn(name)
	ch := make(chan struct{})
	s.mu.Lock()
	s.held[name] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.held, name)
			s.mu.Unlock()
			close(ch)
		})
	}
}

func fqdn(name string) string { return dns.Fqdn(strings.ToLower(name)) }

func addrRR(name string, ttl uint32, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
			A:   a.AsSlice(),
		}
	}
	return &dns.AAAA{
		Hdr:  dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl},
		AAAA: a.AsSlice(),
	}
}
