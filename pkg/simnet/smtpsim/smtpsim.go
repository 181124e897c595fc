// Package smtpsim is a simulated mail relay for tests and load runs: an
// in-process go-smtp server on loopback that records every message and can be
// told to answer 4xx or 5xx, drop the connection in the middle of DATA, or
// stall. Nothing in production imports it.
package smtpsim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Fault is how the server answers a recipient or a transaction.
type Fault int

// The faults the server can simulate.
const (
	OK       Fault = iota // accept
	TempRcpt              // 450 to RCPT
	PermRcpt              // 550 to RCPT
	TempData              // 451 after the final dot
	PermData              // 554 after the final dot
	DropData              // close the connection in the middle of DATA
	Stall                 // stop answering in DATA until the server closes
)

// Options configures a Server.
type Options struct {
	// StartTLS offers STARTTLS with a self-signed certificate for 127.0.0.1.
	StartTLS bool
	// ImplicitTLS makes the listener speak TLS from the first byte.
	ImplicitTLS bool
	// Users enables AUTH PLAIN with these username/password pairs and
	// refuses MAIL from clients that did not authenticate.
	Users map[string]string
	// Domain is the name in the greeting; default "smtpsim.test".
	Domain string
	// Addr is where to listen; empty means 127.0.0.1 on a free port.
	Addr string
	// OnMessage, when set, is called with every message the relay
	// accepts, before it answers 250: a program writes it to disk there,
	// so what was acknowledged is kept.
	OnMessage func(Message)
	// Discard keeps no copy for Messages, so a long load run does not
	// hold every notice in memory (OnMessage still sees each one).
	Discard bool
}

// Message is one message the server accepted.
type Message struct {
	From     string
	To       []string
	Data     []byte
	Helo     string
	TLS      bool
	AuthUser string
	// At is when the relay accepted the message (for latency runs).
	At time.Time
}

// Server is a running simulated relay.
type Server struct {
	addr     string
	srv      *gosmtp.Server
	cert     certificate
	opts     Options
	conns    atomic.Int64
	done     chan struct{}
	ln       *relayListener
	mu       sync.Mutex
	messages []Message
	faults   map[string]Fault // by recipient; "" is every recipient
	tempRate float64          // share of MAIL, RCPT and DATA answered 4xx
	rnd      *rand.Rand
	temps    atomic.Int64
}

// New starts a server on opts.Addr, by default 127.0.0.1 with a random
// port.
func New(opts Options) (*Server, error) {
	cert, err := newCertificate()
	if err != nil {
		return nil, err
	}
	if opts.Domain == "" {
		opts.Domain = "smtpsim.test"
	}
	s := &Server{cert: cert, opts: opts, done: make(chan struct{}), faults: map[string]Fault{},
		rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = opts.Domain
	srv.AllowInsecureAuth = !opts.StartTLS && !opts.ImplicitTLS
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	if opts.StartTLS || opts.ImplicitTLS {
		srv.TLSConfig = cert.serverConfig()
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	rl, err := newRelayListener(addr, &s.conns)
	if err != nil {
		return nil, err
	}
	s.ln, s.addr = rl, rl.addr
	var ln net.Listener = rl
	if opts.ImplicitTLS {
		ln = tlsListener(ln, cert.serverConfig())
	}
	s.srv = srv
	go srv.Serve(ln) //nolint:errcheck // Serve returns when Close is called
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Host is the listening address without the port.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Close stops the server and releases stalled sessions.
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
		close(s.done)
	}
	return s.srv.Close()
}

// SetDown takes the relay off the network (true: open sessions are cut and
// every new connection is reset before the greeting, as when the relay is
// gone; the port stays held) or brings it back (false).
func (s *Server) SetDown(down bool) error {
	if down {
		return s.ln.down()
	}
	return s.ln.up()
}

// SetTempFailRate makes the relay answer that share (0 to 1) of MAIL, RCPT
// and DATA commands with a 4xx, at random, as an overloaded relay does; 0
// turns it off.
func (s *Server) SetTempFailRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tempRate = p
}

// TempFailures is how many commands were answered 4xx by SetTempFailRate.
func (s *Server) TempFailures() int64 { return s.temps.Load() }

// tempFail draws whether this command fails temporarily.
func (s *Server) tempFail() bool {
	s.mu.Lock()
	fail := s.tempRate > 0 && s.rnd.Float64() < s.tempRate
	s.mu.Unlock()
	if fail {
		s.temps.Add(1)
	}
	return fail
}

// Connections returns how many TCP connections the server has accepted.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Messages returns a copy of what the server accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// SetFault makes the server answer rcpt with f; an empty rcpt sets the
// answer for every recipient without one of its own.
func (s *Server) SetFault(rcpt string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[strings.ToLower(rcpt)] = f
}

func (s *Server) fault(rcpt string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.faults[strings.ToLower(rcpt)]; ok {
		return f
	}
	return s.faults[""]
}

func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{srv: s, conn: c, helo: c.Hostname(), tls: isTLS}, nil
}

type session struct {
	srv  *Server
	conn *gosmtp.Conn
	helo string
	tls  bool
	user string
	from string
	to   []string
}

var (
	errTempRcpt = &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "Mailbox busy, try later"}
	errPermRcpt = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	errTempData = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Local error, try later"}
	errTempMail = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2}, Message: "System busy, try later"}
	errPermData = &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "Message rejected"}
)

func (ss *session) AuthMechanisms() []string {
	if ss.srv.opts.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.srv.opts.Users == nil || mech != sasl.Plain {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if want, ok := ss.srv.opts.Users[username]; !ok || want != password {
			return gosmtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.srv.opts.Users != nil && ss.user == "" {
		return gosmtp.ErrAuthRequired
	}
	if ss.srv.tempFail() {
		return errTempMail
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.srv.tempFail() {
		return errTempRcpt
	}
	switch ss.srv.fault(to) {
	case TempRcpt:
		return errTempRcpt
	case PermRcpt:
		return errPermRcpt
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) dataFault() Fault {
	for _, rcpt := range ss.to {
		if f := ss.srv.fault(rcpt); f >= TempData {
			return f
		}
	}
	return OK
}

func (ss *session) Data(r io.Reader) error {
	switch ss.dataFault() {
	case DropData:
		buf := make([]byte, 64)
		io.ReadFull(r, buf) //nolint:errcheck // the point is to read a little and hang up
		ss.conn.Conn().Close()
		return errors.New("connection dropped")
	case Stall:
		<-ss.srv.done
		return errTempData
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch ss.dataFault() {
	case TempData:
		return errTempData
	case PermData:
		return errPermData
	}
	if ss.srv.tempFail() {
		return errTempData
	}
	m := Message{
		From: ss.from, To: append([]string(nil), ss.to...), Data: b, Helo: ss.helo, TLS: ss.tls, AuthUser: ss.user,
		At: time.Now(),
	}
	if ss.srv.opts.OnMessage != nil {
		ss.srv.opts.OnMessage(m)
	}
	if !ss.srv.opts.Discard {
		ss.srv.mu.Lock()
		ss.srv.messages = append(ss.srv.messages, m)
		ss.srv.mu.Unlock()
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }
