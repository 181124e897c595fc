package cadence

import (
	"fmt"

	"github.com/takedownd/takedownd/pkg/config"
)

// SCARTYAML is SCART's policy (shared BRIEF, "Facts from the field")
// written as takedownd configuration over its defaults: URLs grouped per
// abuse contact for 1 h before the first notice, a re-check every 2 h,
// offline after 3 misses in a row 3 minutes apart, the notice repeated
// every 24 h while online. SCART's re-check interval runs from 15 minutes
// to 4 hours; 2 h is the setting compared here. takedownd's own means of
// spreading checks (spread) and of keeping them off the timeline
// (record_unchanged) are not SCART's, and are off.
const SCARTYAML = `# SCART's policy in takedownd's terms (takedownsim cadence -scart).
notify:
  batch_window: 1h
recheck:
  cadence: [2h]
  every: 2h
  early:
    every: 0s
  spread: 0s
  record_unchanged: 0s
  confirm_gone: 3
  confirm_spacing: 3m
  routes:
    hoster: {reminder_interval: 24h}
    cdn: {reminder_interval: 24h}
    partner: {reminder_interval: 24h}
`

// DefaultPolicy is takedownd's built-in configuration.
func DefaultPolicy() Policy {
	cfg := config.Default()
	return Policy{Name: "default", Config: cfg.Recheck, BatchWindow: cfg.Notify.BatchWindow}
}

// SCARTPolicy is SCARTYAML over the defaults.
func SCARTPolicy() (Policy, error) {
	cfg := config.Default()
	if err := config.Decode([]byte(SCARTYAML), &cfg); err != nil {
		return Policy{}, fmt.Errorf("load SCART's policy: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Policy{}, fmt.Errorf("load SCART's policy: %w", err)
	}
	return Policy{Name: "SCART", Config: cfg.Recheck, BatchWindow: cfg.Notify.BatchWindow}, nil
}

// LoadPolicy reads a takedownd configuration file, as the daemon would.
func LoadPolicy(name, path string) (Policy, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return Policy{}, fmt.Errorf("load policy %s: %w", name, err)
	}
	return Policy{Name: name, Config: cfg.Recheck, BatchWindow: cfg.Notify.BatchWindow}, nil
}
