package inbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
)

// Ingestor is what the listener and the drop directory feed.
type Ingestor interface {
	Ingest(ctx context.Context, raw []byte) (Result, error)
}

// SMTPConfig configures the inbound SMTP listener.
type SMTPConfig struct {
	Listen string // host:port; port 0 picks one (see Addr)
	Domain string // the name the server greets with
	// ReadTimeout and WriteTimeout bound each command and reply.
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	MaxMessageBytes int64
	MaxRecipients   int
	// Domains are the recipient domains accepted; others get 550.
	Domains []string
	// TLS offers STARTTLS when set.
	TLS *tls.Config
	// IngestTimeout bounds the recording of one message before the
	// sender is told to try again (451).
	IngestTimeout time.Duration
	// Limits bound connections and messages, in all and per client.
	Limits ClientLimits
	// Metrics registers the count of refused connections and messages;
	// nil registers nothing.
	Metrics prometheus.Registerer
	// Now is the clock of the message rates; nil means time.Now.
	Now func() time.Time
}

// SMTPServer receives replies and bounces by SMTP. It accepts mail only
// for the configured domains, so it relays nothing.
type SMTPServer struct {
	cfg     SMTPConfig
	srv     *gosmtp.Server
	ln      net.Listener
	ing     Ingestor
	log     *slog.Logger
	clients *clientTable
	refused *prometheus.CounterVec
	mu      sync.Mutex
	base    context.Context
}

// NewSMTPServer binds the listener; Run serves it.
func NewSMTPServer(cfg SMTPConfig, ing Ingestor, log *slog.Logger) (*SMTPServer, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("new inbound smtp: no accepted domains")
	}
	if cfg.IngestTimeout <= 0 {
		cfg.IngestTimeout = 30 * time.Second
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen inbound smtp: %w", err)
	}
	s := &SMTPServer{cfg: cfg, ing: ing, log: log, base: context.Background(), clients: newClientTable(cfg.Limits, cfg.Now)}
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "takedownd_inbound_smtp_refused_total",
		Help: "Inbound SMTP connections and messages refused over a bound, by reason (connections, client_connections, client_rate).",
	}, []string{"reason"})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(s.refused); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("register inbound smtp metrics: %w", err)
		}
	}
	s.ln = &limitedListener{Listener: ln, table: s.clients, domain: cfg.Domain, log: log, refused: func(reason string) {
		s.refused.WithLabelValues(reason).Inc()
	}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Domain
	srv.ReadTimeout, srv.WriteTimeout = cfg.ReadTimeout, cfg.WriteTimeout
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.TLSConfig = cfg.TLS
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	s.srv = srv
	return s, nil
}

// Addr is the address the listener is bound to.
func (s *SMTPServer) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then lets sessions in progress finish for a
// few seconds before closing them.
func (s *SMTPServer) Run(ctx context.Context) error {
	s.mu.Lock()
	s.base = context.WithoutCancel(ctx)
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.log.Info("inbound smtp listening", "addr", s.Addr().String(), "starttls", s.cfg.TLS != nil)
	select {
	case err := <-errc:
		return fmt.Errorf("serve inbound smtp: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shut); err != nil && !errors.Is(err, gosmtp.ErrServerClosed) {
		_ = s.srv.Close()
	}
	return nil
}

// Close stops listening and drops every session.
func (s *SMTPServer) Close() error {
	err := s.srv.Close()
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *SMTPServer) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	key, trusted := s.clients.clientKey(c.Conn().RemoteAddr())
	return &session{s: s, base: base, client: key, trusted: trusted}, nil
}

// session is one SMTP transaction at a time.
type session struct {
	s       *SMTPServer
	base    context.Context
	client  netip.Prefix
	trusted bool
	from    string
	rcpt    []string
}

var errClientRate = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "too many messages from your address, try again later"}

var errRelay = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "relay not permitted: we accept mail for our reply addresses only"}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if !ss.s.clients.allowMessage(ss.client, ss.trusted) {
		ss.s.refused.WithLabelValues(refusedClientRate).Inc()
		ss.s.log.Debug("inbound smtp message refused", "reason", refusedClientRate, "client", ss.client.String())
		return errClientRate
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	_, domain, ok := strings.Cut(to, "@")
	if !ok || !acceptedDomain(domain, ss.s.cfg.Domains) {
		return errRelay
	}
	ss.rcpt = append(ss.rcpt, strings.ToLower(to))
	return nil
}

// Data records the message before answering, so a 250 means it is kept.
// The envelope goes in front as Return-Path and Delivered-To fields, as
// a delivery agent writes them, for matching and for the dead letters.
func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	buf.WriteString("Return-Path: <" + sanitizeEnvelope(ss.from) + ">\r\n")
	for _, rc := range ss.rcpt {
		buf.WriteString("Delivered-To: " + sanitizeEnvelope(rc) + "\r\n")
	}
	if _, err := io.Copy(&buf, r); err != nil {
		return err // go-smtp answers ErrDataTooLarge itself
	}
	ctx, cancel := context.WithTimeout(ss.base, ss.s.cfg.IngestTimeout)
	defer cancel()
	res, err := ss.s.ing.Ingest(ctx, buf.Bytes())
	if err != nil {
		ss.s.log.Warn("inbound message not recorded, sender will retry", "err", err)
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "cannot record the message now, try again later"}
	}
	ss.s.log.Debug("inbound smtp message", "kind", res.Kind, "notice", res.Ref)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.rcpt = "", nil }
func (ss *session) Logout() error { return nil }

// sanitizeEnvelope keeps an envelope address from injecting header lines.
func sanitizeEnvelope(a string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '<' || r == '>' {
			return -1
		}
		return r
	}, a)
}
