package config

import "time"

// Reconcile configures the reconciler, which checks that every open case
// has a next step — a pending unit of work, a pending check, or a place in
// a person's queue with a reason — and repairs the cases that have none.
// One replica at a time runs it (a lease in KV); it reads only open cases.
type Reconcile struct {
	// Interval is the time between passes; the first runs at start.
	Interval time.Duration `yaml:"interval"`
	// ConfirmAfter is how long a case must stay without a next step, its
	// record unchanged, before it is repaired: a stage between its write
	// and its next unit of work is not a gap.
	ConfirmAfter time.Duration `yaml:"confirm_after"`
	// Workers is how many cases a pass looks at at once.
	Workers int `yaml:"workers"`
}

func defaultReconcile() Reconcile {
	return Reconcile{Interval: 10 * time.Minute, ConfirmAfter: time.Minute, Workers: 8}
}

func (x Reconcile) validate(c *checker) {
	if x.Interval < time.Second {
		c.add("reconcile.interval", "must be at least 1s, got %s", x.Interval)
	}
	if x.ConfirmAfter < time.Second {
		c.add("reconcile.confirm_after", "must be at least 1s, got %s", x.ConfirmAfter)
	}
	c.positive("reconcile.workers", x.Workers)
}
