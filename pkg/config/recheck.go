package config

// Recheck configures re-checks: cadence, prober limits, removal confirmation, reminders and escalation.
type Recheck struct{}

func defaultRecheck() Recheck { return Recheck{} }

func (x Recheck) validate(c *checker) {}
