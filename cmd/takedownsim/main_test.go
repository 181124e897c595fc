package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"no command", nil, 2, "Usage:"},
		{"help", []string{"help"}, 0, "takedownsim world [flags]"},
		{"unknown command", []string{"wrold"}, 2, `unknown command "wrold"`},
		{"bad ports", []string{"world", "-ports", "some"}, 2, "-ports"},
		{"bad mix", []string{"world", "-mix", "remove=1,vanish=2"}, 2, "vanish is not one of"},
		{"bad range", []string{"world", "-remove-after", "5m-1m"}, 2, "ends before it starts"},
		{"cadence", []string{"cadence", "-cases", "300", "-workers", "1"}, 0, "removal → confirmed p50"},
		{"cadence as JSON", []string{"cadence", "-cases", "100", "-scart=false", "-json"}, 0, `"removal_to_confirmed"`},
		{"SCART's policy", []string{"cadence", "-print-scart"}, 0, "confirm_spacing: 3m"},
		{"cadence, bad removal", []string{"cadence", "-removal", "soon"}, 2, "-removal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %s)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s%s", tt.want, out.String(), errOut.String())
			}
		})
	}
}
