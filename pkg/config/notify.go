package config

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Notify configures notices: who sends them, the batching window, the
// SMTP relay (or the outbox when there is none), and forwarding.
type Notify struct {
	// From is the address notices come from; replies go to it with the
	// notice reference added (abuse+REF@…) unless PlainReplyTo.
	From         string  `yaml:"from"`
	PlainReplyTo bool    `yaml:"plain_reply_to"`
	Hotline      Hotline `yaml:"hotline"`
	// TemplatesDir overrides the built-in templates file by file (copy
	// config/templates/ and edit).
	TemplatesDir string `yaml:"templates_dir"`
	// Deadline is the removal time a notice asks for.
	Deadline time.Duration `yaml:"deadline"`
	// BatchWindow gathers URLs per abuse contact into one notice; a
	// high-priority report skips it. 0 sends every URL at once.
	BatchWindow time.Duration `yaml:"batch_window"`
	MaxURLs     int           `yaml:"max_urls_per_notice"`
	Workers     int           `yaml:"workers"`
	// MaxAttempts bounds deliveries of one notice that fail temporarily
	// (4xx, timeouts); then the notice is recorded failed and its cases go
	// to review.
	MaxAttempts  int             `yaml:"max_attempts"`
	RetryBackoff []time.Duration `yaml:"retry_backoff"`
	// AckWait is how long routing, a follow-up or a notice's flush may go
	// without a sign of progress before JetStream hands it to another
	// replica. Progress is signalled while an SMTP send or a forward runs,
	// so the message stays with the replica that sends (no second send);
	// this is how long the work of a replica that died waits.
	AckWait time.Duration `yaml:"ack_wait"`
	// MaxAckPending bounds the route, follow-up and flush messages
	// delivered and not yet acked, across replicas. A notice's flush
	// waits out its batching window as such a message, so this bounds the
	// notices open at once too.
	MaxAckPending int        `yaml:"max_ack_pending"`
	SMTP          SMTP       `yaml:"smtp"`
	DKIM          DKIM       `yaml:"dkim"`
	SendWindow    SendWindow `yaml:"send_window"`
	Authority     Authority  `yaml:"authority"`
	VERP          VERP       `yaml:"verp"`
	// ContactHealthTTL is how long an address that bounced for good (a
	// verified bounce: user or host unknown, moved, not accepting mail)
	// is skipped by routing, for every case and every replica, counted
	// from its last bounce; then it is tried again.
	ContactHealthTTL time.Duration `yaml:"contact_health_ttl"`
	XARF             XARF          `yaml:"xarf"`
}

// XARF chooses, per contact, between the batched notice and one mail per
// URL in the X-ARF e-mail transport shape (multipart/report with
// Feedback-Type: xarf), the one automated abuse desks parse. A contact in
// the contact book decides for itself (machine_readable); Default is for
// the contacts RDAP gives.
type XARF struct {
	// Default is batched (one notice per contact and batching window, for
	// people, its X-ARF reports attached) or per_url (one X-ARF mail per
	// URL, sent without waiting for the window, each with a reference of
	// its own).
	Default string `yaml:"default"`
}

// The values of notify.xarf.default.
const (
	XARFBatched = "batched"
	XARFPerURL  = "per_url"
)

// VERP puts each notice's reference into its envelope sender
// (abuse+bounce-REF-tag@…), with a tag only this daemon can make, so a
// bounce that returns nothing of the original still finds its notice. The
// reply domain's MX must deliver abuse+anything@ to the inbound listener
// or drop directory; the header From stays notify.from.
type VERP struct {
	// Disabled sends every notice from notify.from itself.
	Disabled bool `yaml:"disabled"`
	// SecretFile holds the tag secret (at least 32 characters). Empty:
	// <data_dir>/verp-secret, created at first start, readable by the
	// owner only. Replicas that share one reply address must share it.
	SecretFile string `yaml:"secret_file"`
}

// Hotline names the sender in the notice text.
type Hotline struct {
	Name    string `yaml:"name"`
	Country string `yaml:"country"`
	Website string `yaml:"website"`
	Phone   string `yaml:"phone"`
}

// SMTP is the mail relay. With no host, notices go to <data>/outbox as
// .eml files and nothing is sent.
type SMTP struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
	// TLS is starttls (required: no STARTTLS, no sending), implicit (TLS
	// from the first byte, port 465) or none, which is refused unless the
	// relay is on loopback (127.0.0.0/8, ::1, localhost) or AllowInsecure.
	TLS string `yaml:"tls"`
	// AllowInsecure lets tls: none reach a relay that is not on loopback,
	// e.g. a sidecar MTA on a private network. Notices name URLs of abuse
	// material, and the password crosses the network in the clear too.
	AllowInsecure bool   `yaml:"allow_insecure"`
	CAFile        string `yaml:"ca_file"`
	Username      string `yaml:"username"`
	Password      Secret `yaml:"password"`
	HeloName      string `yaml:"helo_name"`
	// CommandTimeout bounds each SMTP command, MessageTimeout one whole
	// message (go-smtp's own defaults are minutes).
	CommandTimeout time.Duration `yaml:"command_timeout"`
	MessageTimeout time.Duration `yaml:"message_timeout"`
	PoolSize       int           `yaml:"pool_size"`
}

// DKIM signs notices when KeyFile is set.
type DKIM struct {
	Domain   string `yaml:"domain"`
	Selector string `yaml:"selector"`
	KeyFile  string `yaml:"key_file"`
}

// SendWindow keeps notices inside office hours, when a hoster's abuse desk
// reads them; high-priority notices may bypass it.
type SendWindow struct {
	Enabled bool `yaml:"enabled"`
	// Days are the weekdays notices go out (mon … sun).
	Days         []string `yaml:"days"`
	Start        string   `yaml:"start"` // 08:00
	End          string   `yaml:"end"`   // 18:00
	TimeZone     string   `yaml:"time_zone"`
	BlockedDates []string `yaml:"blocked_dates"` // 2026-12-25 …
	HighBypass   bool     `yaml:"high_priority_bypass"`
}

// Authority is the last step of escalation, with its statutory deadline
// (Dutch law since 1 July 2024: removal orders within at most 12 hours).
type Authority struct {
	Name     string        `yaml:"name"`
	Email    string        `yaml:"email"`
	Deadline time.Duration `yaml:"deadline"`
}

func defaultNotify() Notify {
	return Notify{
		From:          "abuse@hotline.example",
		Hotline:       Hotline{Name: "Example Hotline", Country: "NL", Website: "https://hotline.example"},
		Deadline:      24 * time.Hour,
		BatchWindow:   10 * time.Minute,
		MaxURLs:       100,
		Workers:       8,
		MaxAttempts:   12,
		RetryBackoff:  []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute},
		AckWait:       20 * time.Second,
		MaxAckPending: 10_000,
		SMTP: SMTP{
			Port: 587, TLS: "starttls", HeloName: "takedownd.hotline.example",
			CommandTimeout: 30 * time.Second, MessageTimeout: 2 * time.Minute, PoolSize: 4,
		},
		SendWindow: SendWindow{
			Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "08:00", End: "18:00",
			TimeZone: "Europe/Amsterdam", HighBypass: true,
		},
		Authority:        Authority{Name: "ATKM", Deadline: 12 * time.Hour},
		ContactHealthTTL: 7 * 24 * time.Hour,
		XARF:             XARF{Default: XARFBatched},
	}
}

func (n Notify) validate(c *checker) {
	if _, err := mail.ParseAddress(n.From); err != nil {
		c.add("notify.from", "not an e-mail address: %v", err)
	}
	if n.Hotline.Name == "" {
		c.add("notify.hotline.name", "must be set")
	}
	if n.Deadline <= 0 {
		c.add("notify.deadline", "must be positive")
	}
	if n.BatchWindow < 0 {
		c.add("notify.batch_window", "must not be negative")
	}
	c.positive("notify.max_urls_per_notice", n.MaxURLs)
	c.positive("notify.workers", n.Workers)
	if n.AckWait < time.Second {
		c.add("notify.ack_wait", "must be at least 1s, got %s", n.AckWait)
	}
	if n.MaxAckPending < 4*n.Workers {
		c.add("notify.max_ack_pending", "must be at least 4 × notify.workers (%d), got %d", 4*n.Workers, n.MaxAckPending)
	}
	c.positive("notify.max_attempts", n.MaxAttempts)
	if len(n.RetryBackoff) == 0 {
		c.add("notify.retry_backoff", "must list at least one wait")
	}
	if n.SMTP.Host != "" {
		c.oneOf("notify.smtp.tls", n.SMTP.TLS, "starttls", "implicit", "none")
		if n.SMTP.TLS == "none" && !n.SMTP.AllowInsecure && !IsLoopbackHost(n.SMTP.Host) {
			c.add("notify.smtp.tls", "none sends notices in the clear: only for a relay on loopback, not %q (or set notify.smtp.allow_insecure)", n.SMTP.Host)
		}
		if n.SMTP.Port <= 0 || n.SMTP.Port > 65535 {
			c.add("notify.smtp.port", "not a port: %d", n.SMTP.Port)
		}
		if n.SMTP.HeloName == "" || n.SMTP.HeloName == "localhost" {
			c.add("notify.smtp.helo_name", "must name this host (relays distrust \"localhost\")")
		}
		if n.SMTP.Username != "" && !n.SMTP.Password.IsSet() {
			c.add("notify.smtp.password", "must be set when username is")
		}
		c.positive("notify.smtp.pool_size", n.SMTP.PoolSize)
		if n.SMTP.CommandTimeout <= 0 {
			c.add("notify.smtp.command_timeout", "must be positive")
		}
		if n.SMTP.MessageTimeout <= 0 {
			c.add("notify.smtp.message_timeout", "must be positive")
		}
	}
	if n.DKIM.KeyFile != "" && (n.DKIM.Domain == "" || n.DKIM.Selector == "") {
		c.add("notify.dkim", "domain and selector must be set with key_file")
	}
	c.oneOf("notify.xarf.default", n.XARF.Default, XARFBatched, XARFPerURL)
	if n.Authority.Deadline <= 0 {
		c.add("notify.authority.deadline", "must be positive")
	}
	if n.ContactHealthTTL < time.Minute {
		c.add("notify.contact_health_ttl", "must be at least 1m, got %s", n.ContactHealthTTL)
	}
	if n.Authority.Email != "" {
		if _, err := mail.ParseAddress(n.Authority.Email); err != nil {
			c.add("notify.authority.email", "not an e-mail address: %v", err)
		}
	}
	w := n.SendWindow
	if w.Enabled {
		for i, d := range w.Days {
			if !slices.Contains([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, strings.ToLower(d)) {
				c.add(fmt.Sprintf("notify.send_window.days[%d]", i), "%q is not a weekday (mon … sun)", d)
			}
		}
		for key, v := range map[string]string{"start": w.Start, "end": w.End} {
			if _, err := time.Parse("15:04", v); err != nil {
				c.add("notify.send_window."+key, "%q is not a time of day (15:04)", v)
			}
		}
		if _, err := time.LoadLocation(w.TimeZone); err != nil {
			c.add("notify.send_window.time_zone", "%v", err)
		}
		for i, d := range w.BlockedDates {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				c.add(fmt.Sprintf("notify.send_window.blocked_dates[%d]", i), "%q is not a date (2006-01-02)", d)
			}
		}
	}
}
