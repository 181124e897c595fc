package config

import (
	"time"
)

// Storage bounds everything takedownd keeps in JetStream: each stream and
// bucket has a size limit (max_bytes) and, where old entries may go, an
// age limit (max_age). What happens at a limit depends on what is kept:
//
//   - State (cases, the URL and report indexes, notices, batches,
//     follow-ups, the work queue, the audit trail, inbound dedup, the RDAP
//     budgets, contact health, leases) is never dropped to make room. When it is
//     full, the write that does not fit is refused and fails loudly (the
//     step is retried and its error logged), and /readyz answers 503
//     naming the full stream or bucket and the key to raise.
//   - Re-check schedules (TAKEDOWN_CHECKS) cannot be refused: JetStream
//     message schedules need a stream that drops its oldest. At the limit
//     the oldest schedules go, the reconciler re-creates them, and /readyz
//     answers 503 as for state.
//   - Dead letters drop the oldest to make room, and go after max_age:
//     anyone who reaches the inbound MX can send them, so they must never
//     fill the disk or crowd out state. /readyz stays 200.
//   - The RDAP cache keeps no new answer when full (it costs a query
//     later); /readyz stays 200.
//   - Reports, the analyst tool's input, go after max_age (each is in its
//     case seconds after it arrives); when full, a publish is refused and
//     the analyst tool retries.
//
// A warning is logged when a stream or bucket passes warn_percent of its
// size limit (once per crossing), and takedownd_storage_bytes and
// takedownd_storage_limit_bytes show every one at /metrics. The defaults
// hold about two million cases (a case keeps ~3 kB in cases and ~8 kB of
// events on average) and add up to about 33.5GiB; with the embedded
// server and nats.embedded.max_store 0, the store is sized to their sum.
type Storage struct {
	// MaxBytes is the size limit of each stream and bucket: a number of
	// bytes, or with a unit (512MiB, 16GiB).
	MaxBytes StorageSizes `yaml:"max_bytes"`
	// MaxAge removes older entries from the streams whose entries may age;
	// 0 keeps them. State has no age: it must not vanish with time.
	MaxAge StorageAges `yaml:"max_age"`
	// WarnPercent is the share of a size limit past which a warning is
	// logged, once until the usage falls back under it.
	WarnPercent int `yaml:"warn_percent"`
	// CheckInterval is how often usage is read for the metrics, the
	// warning and readiness.
	CheckInterval time.Duration `yaml:"check_interval"`
}

// StorageSizes are the size limits, one per stream or bucket.
type StorageSizes struct {
	// Events is the audit trail, TAKEDOWN_EVENTS.
	Events ByteSize `yaml:"events"`
	// DeadLetters is TAKEDOWN_DLQ: rejected reports, mail that matched no
	// notice. The oldest go first when it is full.
	DeadLetters ByteSize `yaml:"dead_letters"`
	// Reports is intake's stream (intake.stream): reports as published.
	Reports ByteSize `yaml:"reports"`
	// Work is the work queue, TAKEDOWN_WORK: one message per pending step.
	Work ByteSize `yaml:"work"`
	// Checks is TAKEDOWN_CHECKS: the one pending re-check of each case.
	Checks ByteSize `yaml:"checks"`
	// Cases is the bucket takedown_cases.
	Cases ByteSize `yaml:"cases"`
	// URLs is takedown_urls, the open case of each URL.
	URLs ByteSize `yaml:"urls"`
	// ReportIDs is takedown_reports, the case of every report id.
	ReportIDs ByteSize `yaml:"report_ids"`
	// Notices is takedown_notices, every notice and forward sent.
	Notices ByteSize `yaml:"notices"`
	// Batches is takedown_batches, the open notice of each contact.
	Batches ByteSize `yaml:"batches"`
	// FollowUps is takedown_recheck_followups, re-check decisions not yet
	// enqueued.
	FollowUps ByteSize `yaml:"followups"`
	// InboundSeen is takedown_inbound_seen, the Message-IDs of recorded
	// mail (entries go after inbound.dedup_window).
	InboundSeen ByteSize `yaml:"inbound_seen"`
	// RDAPCache is the RDAP cache bucket (entries go after
	// enrich.rdap.cache_ttl).
	RDAPCache ByteSize `yaml:"rdap_cache"`
	// Coordination bounds each of the small buckets replicas coordinate
	// in, a few entries each: takedown_health (readiness),
	// takedown_reconcile (the reconciler's lease) and the RDAP servers'
	// shared query budgets (enrich.rdap.limit_bucket).
	Coordination ByteSize `yaml:"coordination"`
	// ContactHealth is takedown_contact_health, the abuse addresses that
	// bounced for good (entries go after notify.contact_health_ttl).
	ContactHealth ByteSize `yaml:"contact_health"`
	// RememberedContacts is takedown_contacts, the contacts people
	// remembered for hosters through the API (one entry per domain,
	// network or AS).
	RememberedContacts ByteSize `yaml:"remembered_contacts"`
}

// StorageAges are the age limits of the streams whose entries may go.
type StorageAges struct {
	// Events: 0 keeps the audit trail as long as there is room; a
	// retention period (43800h is five years) removes older events.
	Events time.Duration `yaml:"events"`
	// DeadLetters go after this (they come from outside: it must be set).
	DeadLetters time.Duration `yaml:"dead_letters"`
	// Reports go after this; each is in its case seconds after it came.
	Reports time.Duration `yaml:"reports"`
}

func defaultStorage() Storage {
	return Storage{
		MaxBytes: StorageSizes{
			Events: 16 << 30, DeadLetters: 1 << 30, Reports: 2 << 30, Work: 1 << 30, Checks: 1 << 30,
			Cases: 8 << 30, URLs: 512 << 20, ReportIDs: 1 << 30, Notices: 2 << 30, Batches: 128 << 20,
			FollowUps: 128 << 20, InboundSeen: 256 << 20, RDAPCache: 512 << 20, Coordination: 16 << 20,
			ContactHealth: 64 << 20, RememberedContacts: 64 << 20,
		},
		MaxAge:        StorageAges{DeadLetters: 30 * 24 * time.Hour, Reports: 90 * 24 * time.Hour},
		WarnPercent:   80,
		CheckInterval: 30 * time.Second,
	}
}

// eventsDuplicateWindow is how long the events and dead-letter streams
// remember a message id (store.Open).
const eventsDuplicateWindow = 2 * time.Hour

// minLimitBytes is the smallest size limit accepted: anything smaller is
// almost surely a unit left out (16 meant as 16GiB).
const minLimitBytes = 1 << 20

// StorageSize is one size limit with its key in the configuration.
type StorageSize struct {
	Key      string // storage.max_bytes.<name>
	MaxBytes ByteSize
}

// Sizes lists every size limit with its key, in the order of the example.
func (s StorageSizes) Sizes() []StorageSize {
	const k = "storage.max_bytes."
	return []StorageSize{
		{k + "events", s.Events}, {k + "dead_letters", s.DeadLetters}, {k + "reports", s.Reports},
		{k + "work", s.Work}, {k + "checks", s.Checks}, {k + "cases", s.Cases}, {k + "urls", s.URLs},
		{k + "report_ids", s.ReportIDs}, {k + "notices", s.Notices}, {k + "batches", s.Batches},
		{k + "followups", s.FollowUps}, {k + "inbound_seen", s.InboundSeen}, {k + "rdap_cache", s.RDAPCache},
		{k + "contact_health", s.ContactHealth}, {k + "remembered_contacts", s.RememberedContacts},
	}
}

// coordinationBuckets is how many buckets storage.max_bytes.coordination
// bounds (app.storageLimits names them).
const coordinationBuckets = 3

// Total is the sum of the size limits.
func (s StorageSizes) Total() ByteSize {
	n := coordinationBuckets * s.Coordination
	for _, l := range s.Sizes() {
		n += l.MaxBytes
	}
	return n
}

func (cfg *Config) validateStorage(c *checker) {
	s := cfg.Storage
	for _, l := range append(s.MaxBytes.Sizes(), StorageSize{"storage.max_bytes.coordination", s.MaxBytes.Coordination}) {
		if l.MaxBytes < minLimitBytes {
			c.add(l.Key, "must be at least 1MiB, got %s (write a unit: 512MiB, 16GiB)", l.MaxBytes)
		}
	}
	// An age shorter than a stream's duplicate window would forget a
	// message id before the window ends (the server refuses it).
	if a := s.MaxAge.Events; a < 0 || (a > 0 && a < eventsDuplicateWindow) {
		c.add("storage.max_age.events", "must be 0 (no age) or at least %s, got %s", eventsDuplicateWindow, a)
	}
	if a := s.MaxAge.Reports; a < 0 || (a > 0 && a < cfg.Intake.DuplicateWindow) {
		c.add("storage.max_age.reports", "must be 0 (no age) or at least intake.duplicate_window (%s), got %s", cfg.Intake.DuplicateWindow, a)
	}
	if a := s.MaxAge.DeadLetters; a < eventsDuplicateWindow {
		c.add("storage.max_age.dead_letters", "must be at least %s: dead letters come from outside and must not stay for ever, and need time to be read, got %s", eventsDuplicateWindow, a)
	}
	if largest := max(cfg.Inbound.MaxMessageBytes, int64(cfg.Intake.MaxReportBytes)); int64(s.MaxBytes.DeadLetters) < 4*largest {
		c.add("storage.max_bytes.dead_letters", "must hold at least 4 of the largest message that may be dead-lettered (inbound.max_message_bytes, intake.max_report_bytes: %s), got %s", ByteSize(largest), s.MaxBytes.DeadLetters)
	}
	if s.WarnPercent < 1 || s.WarnPercent > 99 {
		c.add("storage.warn_percent", "must be 1..99, got %d", s.WarnPercent)
	}
	if s.CheckInterval < time.Second {
		c.add("storage.check_interval", "must be at least 1s, got %s", s.CheckInterval)
	}
	if ms := cfg.NATS.Embedded.MaxStore; len(cfg.NATS.URLs) == 0 && ms > 0 && ms < int64(s.MaxBytes.Total()) {
		c.add("nats.embedded.max_store", "is %s, less than the storage limits add up to (%s): raise it, set it to 0 (sized to the limits), or lower storage.max_bytes", ByteSize(ms), s.MaxBytes.Total())
	}
}
