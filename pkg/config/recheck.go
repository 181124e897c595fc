package config

import (
	"fmt"
	"net"
	"slices"
	"time"
)

// Recheck configures re-checks: cadence, prober limits, removal
// confirmation, reminders and escalation.
type Recheck struct {
	// Workers is how many checks run at once in this replica.
	Workers int `yaml:"workers"`
	// Cadence are the check times after the notice; after the last one a
	// check follows every Every.
	Cadence []time.Duration `yaml:"cadence"`
	Every   time.Duration   `yaml:"every"`
	// Early checks watch closely while hosters act on a notice: during
	// the first Until after the notice, while the material is online, a
	// check follows every Every on top of the cadence. Every 0 switches
	// them off.
	Early Early `yaml:"early"`
	// Spread shifts each case's check slots (cadence, every, early) by an
	// offset below Spread drawn from its id, so that the URLs of one
	// notice (one hoster) are probed spread over it instead of in the
	// same second, which the per-host limits would hold up. It is capped
	// at the cadence's finest step (the first offset, early.every).
	// Reminders are sent by the first check after they are due: at most
	// Spread late once the early checks end. 0 keeps the slots exact.
	Spread time.Duration `yaml:"spread"`
	// ConfirmGone consecutive gone results at least ConfirmSpacing apart
	// confirm a removal. After a first gone the confirming checks follow at
	// that spacing, not at the next cadence slot.
	ConfirmGone    int           `yaml:"confirm_gone"`
	ConfirmSpacing time.Duration `yaml:"confirm_spacing"`
	// RecordUnchanged is how often a scheduled check that changes nothing
	// is written to the case's timeline: one that finds the material
	// online, as the check before it did, and decides nothing else (no
	// reminder, escalation or re-route) is recorded once per window of
	// this length (windows counted from midnight UTC). The case itself
	// always holds the last check (checks, last_checked_at,
	// last_online_at). It keeps the audit trail at a few events per case
	// when early checks run every few minutes; 0 records every check.
	RecordUnchanged time.Duration `yaml:"record_unchanged"`
	// StaysGone are the checks after the removal time; when the last one
	// still finds nothing the case closes. With a spread, each is shifted
	// by an offset of its own below an hour (and below the gap before it),
	// so that a site flapping in spells that divide a day is not found in
	// the phase of the misses that confirmed its removal every time.
	StaysGone []time.Duration `yaml:"stays_gone"`
	// RefreshHoster asks enrichment to look the hoster up again when the
	// case's enrichment is older than this (0 = only when the address
	// changed). SCART refreshes every 12 h.
	RefreshHoster time.Duration `yaml:"refresh_hoster"`
	// SweepInterval is how often the sweeper sends the reminders and
	// escalations a check decided and a crash kept from being enqueued.
	// (A lost schedule is the reconciler's: reconcile.interval.)
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// AckWait is how long a check may go without a sign of progress
	// (sent while it runs) before another replica takes it over: after a
	// crash, the wait of its in-flight checks. MaxDeliver bounds
	// redeliveries (the reconciler resumes the plan of a check given up).
	AckWait    time.Duration `yaml:"ack_wait"`
	MaxDeliver int           `yaml:"max_deliver"`
	// Routes holds the reminder and escalation policy per route kind:
	// hoster, partner, cdn.
	Routes map[string]Escalation `yaml:"routes"`
	Probe  Probe                 `yaml:"probe"`
}

// Early is the close watch of the first hours after a notice.
type Early struct {
	// Every is the interval of early checks; 0 switches them off.
	Every time.Duration `yaml:"every"`
	// Until is how long after the notice early checks run.
	Until time.Duration `yaml:"until"`
}

// Escalation is the reminder and escalation policy of one route kind.
type Escalation struct {
	// ReminderInterval is the time between steps (reminders and
	// escalations) while the material stays online.
	ReminderInterval time.Duration `yaml:"reminder_interval"`
	// RemindersPerLevel reminders go to a level before the next step
	// escalates to the next level in Escalate.
	RemindersPerLevel int `yaml:"reminders_per_level"`
	// Escalate is the chain above the first contact, in order: any of
	// upstream, registrar, authority.
	Escalate []string `yaml:"escalate"`
}

// Probe configures the prober of re-checks.
type Probe struct {
	// UserAgent is sent with every probe, so a hoster can see who asks.
	UserAgent string `yaml:"user_agent"`
	// Timeout bounds one probe: HEAD, GET and redirects together.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRedirects bounds the redirects followed per probe; 0 follows
	// none (a redirect is then inconclusive, too_many_redirects).
	MaxRedirects int `yaml:"max_redirects"`
	// MaxBodyBytes caps how much of a body is hashed; a larger body is
	// inconclusive (too_large), since a prefix proves nothing.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// PerHostConcurrency caps probes in flight per host name.
	PerHostConcurrency int `yaml:"per_host_concurrency"`
	// PerHostRate is requests per second per host; negative is unlimited.
	PerHostRate  float64 `yaml:"per_host_rate"`
	PerHostBurst int     `yaml:"per_host_burst"`
	// AllowPrivate switches off the guard against private, loopback and
	// link-local addresses. Only for tests and staging.
	AllowPrivate bool `yaml:"allow_private"`
	// ConnectTo maps "host:port" of URLs, or "ip:port" of an address a
	// URL's host resolves to, to the "host:port" to connect to instead,
	// like curl's --connect-to (for staging and simulations). A target
	// written as an IP address is connected to as written, loopback
	// included, without allow_private; a target written as a name is
	// resolved and guarded like any URL's host.
	ConnectTo map[string]string `yaml:"connect_to"`
}

// EscalationLevels are the levels an escalation chain may name.
var EscalationLevels = []string{"upstream", "registrar", "authority"}

func defaultRecheck() Recheck {
	return Recheck{
		Workers: 64,
		// A check every 10 minutes for the 72 hours hosters are given,
		// then every 4 hours (SCART's slowest re-check): a removal within
		// the 72 h is confirmed 6–16 minutes after it (the next check,
		// then two more misses). `takedownsim cadence` shows what this
		// costs against SCART's policy.
		Early:   Early{Every: 10 * time.Minute, Until: 72 * time.Hour},
		Cadence: []time.Duration{72 * time.Hour},
		Every:   4 * time.Hour,
		// The 50 URLs of one notice reach their hoster spread over the
		// 10 minutes, a few requests a minute, not 100 in one second.
		Spread: 10 * time.Minute,
		// SCART's 3 misses 3 minutes apart: an odd number of 1- or 2-
		// minute spells of a flapping site apart, so that one of the
		// three lands on the material (closer, 2 minutes, is fooled by
		// 1-minute spells; see README, Re-check cadence).
		ConfirmGone:    3,
		ConfirmSpacing: 3 * time.Minute,
		// 144 checks a day of material that stays online write one
		// "checked" event a day (with the count), not 144.
		RecordUnchanged: 24 * time.Hour,
		StaysGone:       []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour},
		RefreshHoster:   12 * time.Hour,
		SweepInterval:   time.Hour,
		AckWait:         20 * time.Second,
		MaxDeliver:      10,
		Routes: map[string]Escalation{
			// Upstream at 3× and registrar at 6× the interval, as SCART does.
			"hoster": {ReminderInterval: 24 * time.Hour, RemindersPerLevel: 2, Escalate: []string{"upstream", "registrar", "authority"}},
			"cdn":    {ReminderInterval: 24 * time.Hour, RemindersPerLevel: 2, Escalate: []string{"registrar", "authority"}},
			// A partner hotline escalates within its own country.
			"partner": {ReminderInterval: 24 * time.Hour, RemindersPerLevel: 3},
		},
		Probe: Probe{
			// Keep in step with probe.DefaultUserAgent (an app test checks).
			UserAgent: "takedownd/1 (+https://hotline.example/takedownd; abuse-notice re-check)",
			Timeout:   30 * time.Second, MaxRedirects: 5, MaxBodyBytes: 64 << 20,
			PerHostConcurrency: 4, PerHostRate: 5, PerHostBurst: 10,
		},
	}
}

func (x Recheck) validate(c *checker) {
	c.positive("recheck.workers", x.Workers)
	if len(x.Cadence) == 0 {
		c.add("recheck.cadence", "must list at least one offset")
	}
	ascending("recheck.cadence", x.Cadence, c)
	ascending("recheck.stays_gone", x.StaysGone, c)
	if x.Every < time.Minute {
		c.add("recheck.every", "must be at least 1m, got %s", x.Every)
	}
	switch e := x.Early; {
	case e.Every < 0:
		c.add("recheck.early.every", "must not be negative (0 switches early checks off)")
	case e.Every > 0 && e.Every < time.Minute:
		c.add("recheck.early.every", "must be at least 1m (or 0 for no early checks), got %s", e.Every)
	case e.Every > 0 && e.Until < e.Every:
		c.add("recheck.early.until", "must be at least recheck.early.every (%s), got %s", e.Every, e.Until)
	}
	if x.Spread < 0 {
		c.add("recheck.spread", "must not be negative")
	}
	if x.RecordUnchanged < 0 || x.RecordUnchanged > 0 && x.RecordUnchanged < time.Minute {
		c.add("recheck.record_unchanged", "must be at least 1m (or 0 to record every check), got %s", x.RecordUnchanged)
	}
	c.positive("recheck.confirm_gone", x.ConfirmGone)
	if x.ConfirmSpacing <= 0 {
		c.add("recheck.confirm_spacing", "must be positive")
	}
	if x.RefreshHoster < 0 {
		c.add("recheck.refresh_hoster", "must not be negative")
	}
	if x.SweepInterval < time.Second {
		c.add("recheck.sweep_interval", "must be at least 1s, got %s", x.SweepInterval)
	}
	// The sweeper re-sends follow-ups a crash left behind; inside the work
	// queue's duplicate window (store.WorkDuplicateWindow, 2h) a re-send
	// of one that did go out is dropped, beyond it it would go out twice.
	if x.SweepInterval >= 2*time.Hour {
		c.add("recheck.sweep_interval", "must be under 2h (the work queue's duplicate window), got %s", x.SweepInterval)
	}
	if x.AckWait < time.Second {
		c.add("recheck.ack_wait", "must be at least 1s, got %s", x.AckWait)
	}
	if x.MaxDeliver < 2 && x.MaxDeliver != -1 {
		c.add("recheck.max_deliver", "must be at least 2 (or -1 for unlimited), got %d", x.MaxDeliver)
	}
	for kind, e := range x.Routes {
		key := "recheck.routes." + kind
		c.oneOf(key, kind, "hoster", "partner", "cdn")
		if e.ReminderInterval < time.Minute {
			c.add(key+".reminder_interval", "must be at least 1m, got %s", e.ReminderInterval)
		}
		if e.RemindersPerLevel < 0 {
			c.add(key+".reminders_per_level", "must not be negative")
		}
		for i, lvl := range e.Escalate {
			c.oneOf(fmt.Sprintf("%s.escalate[%d]", key, i), lvl, EscalationLevels...)
		}
	}
	x.Probe.validate(c)
}

func (p Probe) validate(c *checker) {
	if p.UserAgent == "" {
		c.add("recheck.probe.user_agent", "must be set")
	}
	if p.Timeout <= 0 {
		c.add("recheck.probe.timeout", "must be positive")
	}
	if p.MaxRedirects < 0 {
		c.add("recheck.probe.max_redirects", "must not be negative")
	}
	if p.MaxBodyBytes <= 0 {
		c.add("recheck.probe.max_body_bytes", "must be positive (every hash check would be too_large)")
	}
	c.positive("recheck.probe.per_host_concurrency", p.PerHostConcurrency)
	if p.PerHostRate == 0 {
		c.add("recheck.probe.per_host_rate", "must be positive, or negative for unlimited")
	}
	c.positive("recheck.probe.per_host_burst", p.PerHostBurst)
	for from, to := range p.ConnectTo {
		key := fmt.Sprintf("recheck.probe.connect_to[%q]", from)
		if _, _, err := net.SplitHostPort(from); err != nil {
			c.add(key, "key is not host:port: %v", err)
		}
		c.hostPort(key, to, true)
	}
}

func ascending(key string, ds []time.Duration, c *checker) {
	for i, d := range ds {
		if d <= 0 {
			c.add(fmt.Sprintf("%s[%d]", key, i), "must be positive")
		}
	}
	if !slices.IsSorted(ds) {
		c.add(key, "must be in ascending order")
	}
}
