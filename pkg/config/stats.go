package config

import "time"

// Stats configures the statistics behind GET /v1/stats and /v1/hosters:
// each replica's in-memory summary of every case.
type Stats struct {
	// SnapshotEvery is how often the summaries are written to
	// <data_dir>/stats-snapshot (and at every stop), so that a start reads
	// that file and then only the changes since, instead of every case
	// record (a minute or more at a million cases). 0s writes none.
	SnapshotEvery time.Duration `yaml:"snapshot_every"`
}

func defaultStats() Stats { return Stats{SnapshotEvery: 10 * time.Minute} }

func (x Stats) validate(c *checker) {
	if x.SnapshotEvery < 0 {
		c.add("stats.snapshot_every", "must not be negative (0s writes no snapshot), got %s", x.SnapshotEvery)
	}
}
