package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Inbound configures how hosters' replies and bounces reach takedownd: an
// SMTP listener the hotline's MX forwards them to, a drop directory an MTA
// or fetchmail fills, or both. Neither is on by default.
type Inbound struct {
	// SMTP is a listener for replies and bounces; off unless listen is set.
	SMTP InboundSMTP `yaml:"smtp"`
	// Dir is a drop directory: .eml files placed there (by an MTA's pipe or
	// maildir delivery, or fetchmail) are read and moved to done/ or
	// failed/. For hosts where no SMTP port can be exposed. Empty: off.
	Dir string `yaml:"dir"`
	// PollInterval is how often the drop directory is scanned.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Domains are the recipient domains mail is accepted for: the
	// hotline's reply addresses. The listener refuses any other recipient
	// with 550, so it is no open relay. Empty: the domain of notify.from.
	Domains []string `yaml:"domains"`
	// MaxMessageBytes bounds one message: larger ones are refused (SMTP
	// 552) or moved to failed/. Replies quoting a notice are small.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// DedupWindow is how long a message's Message-ID is remembered, so the
	// same reply or bounce delivered twice (a second MX, a retry after a
	// lost answer) is recorded once.
	DedupWindow time.Duration `yaml:"dedup_window"`
}

// InboundSMTP is the inbound SMTP listener.
type InboundSMTP struct {
	// Listen is host:port, e.g. 127.0.0.1:2525 behind the hotline's MX.
	// Empty: no listener.
	Listen string `yaml:"listen"`
	// Domain is the name the listener greets with.
	Domain string `yaml:"domain"`
	// ReadTimeout and WriteTimeout bound each command and reply (go-smtp's
	// own defaults are minutes, which lets idle peers pile up).
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxRecipients bounds RCPT TO per message.
	MaxRecipients int `yaml:"max_recipients"`
	// TLSCertFile and TLSKeyFile (PEM) offer STARTTLS when both are set.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// MaxConnections bounds the connections open at once, all clients
	// together: one more is greeted with 421 4.7.0 and closed (the sender
	// retries later, nothing is lost).
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerClient bounds the connections of one client (an
	// IPv4 address, or an IPv6 /64): 421 4.7.0 over it.
	MaxConnectionsPerClient int `yaml:"max_connections_per_client"`
	// ClientMessagesPerMinute and ClientMessageBurst bound the messages
	// one client sends: more are answered 451 4.7.1 (try again later).
	ClientMessagesPerMinute int `yaml:"client_messages_per_minute"`
	ClientMessageBurst      int `yaml:"client_message_burst"`
	// TrustedClients (addresses or CIDR prefixes) are exempt from the
	// per-client bounds: the hotline's own MX when it forwards every reply
	// and bounce to this listener from one address. max_connections still
	// applies.
	TrustedClients []string `yaml:"trusted_clients"`
}

// ParsePrefixOrAddr reads a CIDR prefix (192.0.2.0/24) or one address
// (192.0.2.7, the /32 or /128 of it).
func ParsePrefixOrAddr(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR prefix", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func defaultInbound() Inbound {
	return Inbound{
		PollInterval:    5 * time.Second,
		MaxMessageBytes: 10 << 20,
		DedupWindow:     30 * 24 * time.Hour,
		SMTP: InboundSMTP{
			Domain:        "takedownd.hotline.example",
			ReadTimeout:   60 * time.Second,
			WriteTimeout:  60 * time.Second,
			MaxRecipients: 20,
			// Far above what the replies to a hotline's notices need, far
			// below what exhausts the process (issue: 1,500 connections
			// were greeted).
			MaxConnections:          100,
			MaxConnectionsPerClient: 10,
			ClientMessagesPerMinute: 60,
			ClientMessageBurst:      30,
		},
	}
}

func (x Inbound) validate(c *checker) {
	c.listen("inbound.smtp.listen", x.SMTP.Listen, false, false)
	if x.SMTP.Listen != "" {
		if x.SMTP.Domain == "" {
			c.add("inbound.smtp.domain", "must be set")
		}
		if x.SMTP.ReadTimeout <= 0 {
			c.add("inbound.smtp.read_timeout", "must be positive")
		}
		if x.SMTP.WriteTimeout <= 0 {
			c.add("inbound.smtp.write_timeout", "must be positive")
		}
		c.positive("inbound.smtp.max_recipients", x.SMTP.MaxRecipients)
		c.positive("inbound.smtp.max_connections", x.SMTP.MaxConnections)
		c.positive("inbound.smtp.max_connections_per_client", x.SMTP.MaxConnectionsPerClient)
		if x.SMTP.MaxConnectionsPerClient > x.SMTP.MaxConnections {
			c.add("inbound.smtp.max_connections_per_client", "must not exceed max_connections (%d)", x.SMTP.MaxConnections)
		}
		c.positive("inbound.smtp.client_messages_per_minute", x.SMTP.ClientMessagesPerMinute)
		c.positive("inbound.smtp.client_message_burst", x.SMTP.ClientMessageBurst)
	}
	for i, p := range x.SMTP.TrustedClients {
		if _, err := ParsePrefixOrAddr(p); err != nil {
			c.add(fmt.Sprintf("inbound.smtp.trusted_clients[%d]", i), "%v", err)
		}
	}
	if (x.SMTP.TLSCertFile == "") != (x.SMTP.TLSKeyFile == "") {
		c.add("inbound.smtp", "tls_cert_file and tls_key_file go together")
	}
	if x.Dir != "" && x.PollInterval <= 0 {
		c.add("inbound.poll_interval", "must be positive")
	}
	for i, d := range x.Domains {
		if d == "" || strings.ContainsAny(d, "@ \t<>") {
			c.add(fmt.Sprintf("inbound.domains[%d]", i), "%q is not a domain name", d)
		}
	}
	if x.MaxMessageBytes <= 0 {
		c.add("inbound.max_message_bytes", "must be positive")
	}
	if x.DedupWindow <= 0 {
		c.add("inbound.dedup_window", "must be positive")
	}
}
