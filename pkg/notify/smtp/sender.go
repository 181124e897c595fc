// Package smtp delivers rendered notices to a mail relay over SMTP, through a
// bounded pool of reusable connections, and says per recipient whether the
// relay accepted the message, refused it for now, or refused it for good.
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// TLSMode says how the connection to the relay is protected.
type TLSMode string

// The TLS modes.
const (
	// TLSStartTLS upgrades a plain connection and refuses to send when the
	// relay does not offer STARTTLS. The default.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit TLSMode = "implicit"
	// TLSNone sends in the clear; only for a relay on loopback.
	TLSNone TLSMode = "none"
)

// Config configures a Sender. Zero durations and sizes take the defaults
// named on each field.
type Config struct {
	Host string
	Port int // default 587, or 465 with implicit TLS
	TLS  TLSMode
	// TLSConfig holds trusted roots and the like; ServerName defaults to Host.
	TLSConfig *tls.Config
	// Username and Password enable AUTH PLAIN.
	Username string
	Password string
	// HeloName is our name in EHLO; required, because go-smtp would say localhost.
	HeloName string
	// DialTimeout bounds the TCP connect; default 10s.
	DialTimeout time.Duration
	// CommandTimeout bounds each command's answer; default 30s (go-smtp's is 5 minutes).
	CommandTimeout time.Duration
	// SubmissionTimeout bounds the answer after the final dot; default 60s.
	SubmissionTimeout time.Duration
	// MessageTimeout bounds one whole Send, connecting included; default 2m.
	MessageTimeout time.Duration
	// PoolSize is the most connections open at once; default 4.
	PoolSize int
	// IdleTimeout closes pooled connections unused for this long; default 60s.
	IdleTimeout time.Duration
	// MaxMessagesPerConn reconnects after this many messages; default 100.
	MaxMessagesPerConn int
}

func (c *Config) setDefaults() error {
	if c.Host == "" {
		return errors.New("smtp config: host empty")
	}
	if c.HeloName == "" {
		return errors.New("smtp config: helo name empty")
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("smtp config: tls mode %q unknown", c.TLS)
	}
	if c.Port == 0 {
		c.Port = 587
		if c.TLS == TLSImplicit {
			c.Port = 465
		}
	}
	setDuration(&c.DialTimeout, 10*time.Second)
	setDuration(&c.CommandTimeout, 30*time.Second)
	setDuration(&c.SubmissionTimeout, time.Minute)
	setDuration(&c.MessageTimeout, 2*time.Minute)
	setDuration(&c.IdleTimeout, time.Minute)
	if c.PoolSize <= 0 {
		c.PoolSize = 4
	}
	if c.MaxMessagesPerConn <= 0 {
		c.MaxMessagesPerConn = 100
	}
	return nil
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Sender sends messages through the relay. It is safe for concurrent use;
// at most PoolSize messages are in flight at once.
type Sender struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	slots chan struct{} // one token per connection allowed
	idle  chan *conn
}

// New returns a Sender; it connects lazily, on the first Send.
func New(cfg Config, logger *slog.Logger, now func() time.Time) (*Sender, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Sender{
		cfg:   cfg,
		log:   logger,
		now:   now,
		slots: make(chan struct{}, cfg.PoolSize),
		idle:  make(chan *conn, cfg.PoolSize),
	}, nil
}

// Send hands msg to the relay for rcpts with envelope sender from. It never
// returns an error of its own: the Result says per recipient what happened.
func (s *Sender) Send(ctx context.Context, from string, rcpts []string, msg []byte) Result {
	res := newResult(rcpts)
	if err := checkEnvelope(from, rcpts); err != nil {
		res.failPending(err)
		for i := range res.rcpts {
			res.rcpts[i].Outcome = Permanent
		}
		return res.final()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MessageTimeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		res.failRelay(fmt.Errorf("wait for smtp connection: %w", context.Cause(ctx)))
		return res.final()
	}
	defer func() { <-s.slots }()

	c, err := s.take(ctx)
	if err != nil {
		s.log.Warn("smtp connect", "err", err)
		res.failRelay(err)
		return res.final()
	}
	// A stuck relay must not hold a message past its deadline: closing the
	// connection unblocks whatever command is waiting.
	stop := context.AfterFunc(ctx, c.close)
	healthy := s.transact(c, from, rcpts, msg, res)
	if !stop() {
		// The deadline closed the connection; if the transaction failed,
		// the deadline is why.
		if !healthy {
			res.err = errors.Join(fmt.Errorf("send message: %w", context.Cause(ctx)), res.err)
			res.failPending(res.err)
		}
		healthy = false
	}
	s.put(c, healthy)
	return res.final()
}

// transact runs MAIL, RCPT and DATA on c; it reports whether c can be reused.
func (s *Sender) transact(c *conn, from string, rcpts []string, msg []byte, res *result) bool {
	if err := c.client.Mail(from, nil); err != nil {
		res.failRelay(fmt.Errorf("send MAIL FROM: %w", err))
		return isReply(err) && c.client.Reset() == nil
	}
	accepted := 0
	for i, rcpt := range rcpts {
		err := c.client.Rcpt(rcpt, nil)
		if err != nil && !isReply(err) {
			res.failPending(fmt.Errorf("send RCPT TO: %w", err))
			return false
		}
		res.set(i, err)
		if err == nil {
			accepted++
		}
	}
	if accepted == 0 {
		return c.client.Reset() == nil
	}
	w, err := c.client.Data()
	if err != nil {
		res.failPending(fmt.Errorf("send DATA: %w", err))
		return isReply(err) && c.client.Reset() == nil
	}
	if _, err := w.Write(msg); err != nil {
		res.failPending(fmt.Errorf("write message: %w", err))
		return false
	}
	if err := w.Close(); err != nil {
		res.failPending(fmt.Errorf("finish message: %w", err))
		return isReply(err)
	}
	return true
}

// isReply tells an answer from the relay (the session goes on) from a broken
// connection (it must be dropped).
func isReply(err error) bool {
	var se *gosmtp.SMTPError
	return errors.As(err, &se)
}

func checkEnvelope(from string, rcpts []string) error {
	if len(rcpts) == 0 {
		return errors.New("check envelope: no recipients")
	}
	for _, a := range append([]string{from}, rcpts...) {
		if _, err := mail.ParseAddress(a); err != nil || bytes.ContainsAny([]byte(a), "\r\n<>") {
			return fmt.Errorf("check envelope: address %q invalid", a)
		}
	}
	return nil
}

// take returns a pooled connection after an RSET shows it still works, or a new one.
func (s *Sender) take(ctx context.Context) (*conn, error) {
	for {
		select {
		case c := <-s.idle:
			if s.now().Sub(c.lastUse) > s.cfg.IdleTimeout {
				c.close()
				continue
			}
			if err := c.client.Reset(); err != nil {
				s.log.Debug("smtp pooled connection stale", "err", err)
				c.close()
				continue
			}
			return c, nil
		default:
			return s.dial(ctx)
		}
	}
}

func (s *Sender) put(c *conn, healthy bool) {
	c.used++
	c.lastUse = s.now()
	if !healthy || c.used >= s.cfg.MaxMessagesPerConn {
		if healthy {
			c.client.Quit() //nolint:errcheck // closing anyway
		}
		c.close()
		return
	}
	select {
	case s.idle <- c:
	default:
		c.close()
	}
}

// Close says QUIT on idle connections and closes them.
func (s *Sender) Close() error {
	for {
		select {
		case c := <-s.idle:
			c.raw.SetDeadline(time.Now().Add(s.cfg.CommandTimeout))
			c.client.Quit() //nolint:errcheck // closing anyway
			c.close()
		default:
			return nil
		}
	}
}
