package config

import (
	"strings"
	"testing"
	"time"
)

func TestRecheckValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*Recheck)
		wantKey string // "" = valid
	}{
		{"defaults", func(*Recheck) {}, ""},
		{"no cadence", func(r *Recheck) { r.Cadence = nil }, "recheck.cadence"},
		{"cadence out of order", func(r *Recheck) { r.Cadence = []time.Duration{time.Hour, time.Minute} }, "recheck.cadence"},
		{"early checks off", func(r *Recheck) { r.Early = Early{} }, ""},
		{"early checks every 30s", func(r *Recheck) { r.Early = Early{Every: 30 * time.Second, Until: time.Hour} }, "recheck.early.every"},
		{"negative early interval", func(r *Recheck) { r.Early.Every = -time.Minute }, "recheck.early.every"},
		{"early checks that end before the first", func(r *Recheck) { r.Early = Early{Every: time.Hour, Until: time.Minute} }, "recheck.early.until"},
		{"negative spread", func(r *Recheck) { r.Spread = -time.Second }, "recheck.spread"},
		{"every check recorded", func(r *Recheck) { r.RecordUnchanged = 0 }, ""},
		{"unchanged checks recorded every second", func(r *Recheck) { r.RecordUnchanged = time.Second }, "recheck.record_unchanged"},
		{"zero confirmations", func(r *Recheck) { r.ConfirmGone = 0 }, "recheck.confirm_gone"},
		{"unknown route kind", func(r *Recheck) { r.Routes["review"] = Escalation{ReminderInterval: time.Hour} }, "recheck.routes.review"},
		{"unknown escalation level", func(r *Recheck) {
			r.Routes["hoster"] = Escalation{ReminderInterval: time.Hour, Escalate: []string{"police"}}
		}, "recheck.routes.hoster.escalate[0]"},
		{"bad connect_to target", func(r *Recheck) { r.Probe.ConnectTo = map[string]string{"a.test:80": "nowhere"} }, `recheck.probe.connect_to["a.test:80"]`},
		{"zero rate", func(r *Recheck) { r.Probe.PerHostRate = 0 }, "recheck.probe.per_host_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			cfg.Recheck = defaultRecheck()
			tt.mutate(&cfg.Recheck)
			err := cfg.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Errorf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Errorf("want a problem with %s, got %v", tt.wantKey, err)
			}
		})
	}
}

func TestRecheckDecode(t *testing.T) {
	t.Parallel()
	cfg := Default()
	yaml := "recheck:\n  cadence: [5m, 30m]\n  probe:\n    allow_private: true\n    connect_to: {\"h.test:80\": \"127.0.0.1:8081\"}\n"
	if err := Decode([]byte(yaml), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Recheck
	if len(r.Cadence) != 2 || r.Cadence[1] != 30*time.Minute || !r.Probe.AllowPrivate || r.Probe.ConnectTo["h.test:80"] != "127.0.0.1:8081" {
		t.Errorf("decoded %+v", r)
	}
	if r.ConfirmGone != 3 || r.Every != 4*time.Hour || r.Early.Every != 10*time.Minute {
		t.Errorf("defaults lost: confirm_gone %d, every %s, early every %s", r.ConfirmGone, r.Every, r.Early.Every)
	}
}
