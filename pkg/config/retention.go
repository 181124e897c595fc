package config

import "time"

// Retention anonymises closed cases once they are old enough: the URL is
// replaced by a keyed hash, addresses and contacts are dropped on the
// case, its notices and its timeline; the timings stay, so the statistics
// do not change.
type Retention struct {
	// Disabled keeps every closed case as it is, for ever.
	Disabled bool `yaml:"disabled"`
	// AnonymiseAfter is how long after it closed (its last change) a case
	// is anonymised, in Go's duration syntax (2160h is 90 days).
	AnonymiseAfter time.Duration `yaml:"anonymise_after"`
	// Every is how often each replica looks for closed cases that are
	// due; it finds them in its in-memory statistics, not by reading the
	// cases bucket.
	Every time.Duration `yaml:"every"`
	// Batch bounds how many cases one look anonymises; the rest wait for
	// the next.
	Batch int `yaml:"batch"`
	// SecretFile holds the key of the URL hash (at least 32 characters).
	// Empty: <data_dir>/retention-secret, created at first start,
	// readable by the owner only. Replicas must share it: the same URL
	// must give the same hash on each, or a URL reported again after its
	// case was anonymised is not joined with it. Losing it breaks that
	// join for the cases anonymised before.
	SecretFile string `yaml:"secret_file"`
}

func defaultRetention() Retention {
	return Retention{AnonymiseAfter: 90 * 24 * time.Hour, Every: time.Hour, Batch: 1000}
}

func (x Retention) validate(c *checker) {
	if x.AnonymiseAfter <= 0 {
		c.add("retention.anonymise_after", "must be positive (retention.disabled: true keeps cases), got %s", x.AnonymiseAfter)
	}
	if x.Every <= 0 {
		c.add("retention.every", "must be positive, got %s", x.Every)
	}
	c.positive("retention.batch", x.Batch)
}
