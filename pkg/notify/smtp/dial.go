package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// ErrNoStartTLS means the relay did not offer STARTTLS while the
// configuration requires it; nothing was sent.
var ErrNoStartTLS = errors.New("relay does not offer STARTTLS")

// conn is one session with the relay, ready for MAIL.
type conn struct {
	raw     net.Conn // the TCP connection; closing it aborts whatever runs on it
	client  *gosmtp.Client
	lastUse time.Time
	used    int
}

func (c *conn) close() {
	c.raw.Close()
}

// dial opens a session: TCP (or TLS), STARTTLS when configured, EHLO with our
// own name and AUTH PLAIN when a username is set.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	d := net.Dialer{Timeout: s.cfg.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial relay %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var nc net.Conn = raw
	switch s.cfg.TLS {
	case TLSImplicit:
		tc := tls.Client(raw, s.tlsConfig())
		if err := s.handshake(ctx, tc); err != nil {
			raw.Close()
			return nil, err
		}
		nc = tc
	case TLSStartTLS:
		tc, err := s.startTLS(ctx, raw)
		if err != nil {
			raw.Close()
			return nil, err
		}
		nc = tc
	}
	c := gosmtp.NewClient(nc)
	c.CommandTimeout = s.cfg.CommandTimeout
	c.SubmissionTimeout = s.cfg.SubmissionTimeout
	if err := c.Hello(s.cfg.HeloName); err != nil {
		raw.Close()
		return nil, fmt.Errorf("greet relay %s: %w", addr, err)
	}
	if s.cfg.Username != "" {
		if !c.SupportsAuth(sasl.Plain) {
			raw.Close()
			return nil, fmt.Errorf("authenticate to relay %s: AUTH PLAIN not offered", addr)
		}
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			raw.Close()
			return nil, fmt.Errorf("authenticate to relay %s: %w", addr, err)
		}
	}
	if ctx.Err() != nil {
		raw.Close()
		return nil, fmt.Errorf("dial relay %s: %w", addr, context.Cause(ctx))
	}
	return &conn{raw: raw, client: c, lastUse: s.now()}, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.Host
	}
	return cfg
}

func (s *Sender) handshake(ctx context.Context, tc *tls.Conn) error {
	hctx, cancel := context.WithTimeout(ctx, s.cfg.CommandTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("tls handshake with relay: %w", err)
	}
	return nil
}

// startTLS speaks the plain-text opening itself because go-smtp would say
// EHLO localhost before STARTTLS: our name goes out on both EHLOs. The
// go-smtp client then reads a stand-in greeting and says EHLO again over TLS,
// as RFC 3207 requires.
func (s *Sender) startTLS(ctx context.Context, raw net.Conn) (net.Conn, error) {
	tp := textproto.NewConn(nopCloser{raw})
	step := func(expect int, format string, args ...any) (string, error) {
		raw.SetDeadline(time.Now().Add(s.cfg.CommandTimeout))
		defer raw.SetDeadline(time.Time{})
		if format != "" {
			if err := tp.PrintfLine(format, args...); err != nil {
				return "", err
			}
		}
		_, msg, err := tp.ReadResponse(expect)
		var pe *textproto.Error
		if errors.As(err, &pe) {
			return "", &gosmtp.SMTPError{Code: pe.Code, Message: pe.Msg}
		}
		return msg, err
	}
	if _, err := step(220, ""); err != nil {
		return nil, fmt.Errorf("read relay greeting: %w", err)
	}
	caps, err := step(250, "EHLO %s", s.cfg.HeloName)
	if err != nil {
		return nil, fmt.Errorf("greet relay: %w", err)
	}
	if !hasExtension(caps, "STARTTLS") {
		return nil, ErrNoStartTLS
	}
	if _, err := step(220, "STARTTLS"); err != nil {
		return nil, fmt.Errorf("start tls with relay: %w", err)
	}
	tc := tls.Client(raw, s.tlsConfig())
	if err := s.handshake(ctx, tc); err != nil {
		return nil, err
	}
	return &greetedConn{Conn: tc, greeting: strings.NewReader("220 " + s.cfg.Host + " TLS ready\r\n")}, nil
}

func hasExtension(ehlo, ext string) bool {
	for _, line := range strings.Split(ehlo, "\n")[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.EqualFold(name, ext) {
			return true
		}
	}
	return false
}

// greetedConn replays a greeting before the TLS stream, so that a go-smtp
// client can start on a connection whose real greeting was read already.
type greetedConn struct {
	net.Conn
	greeting io.Reader
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if n, _ := g.greeting.Read(p); n > 0 {
		return n, nil
	}
	return g.Conn.Read(p)
}

type nopCloser struct{ io.ReadWriter }

func (nopCloser) Close() error { return nil }
