package config

import (
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"1048576", 1 << 20, false},
		{"512MiB", 512 << 20, false},
		{"16GiB", 16 << 30, false},
		{"16 GiB", 16 << 30, false},
		{"2TiB", 2 << 40, false},
		{"2GB", 2e9, false},
		{"10kB", 10e3, false},
		{"100B", 100, false},
		{"", 0, true},
		{"GiB", 0, true},
		{"1.5GiB", 0, true},
		{"-1", 0, true},
		{"16XB", 0, true},
		{"9999999TiB", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseByteSize(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	for _, b := range []ByteSize{16 << 30, 512 << 20, 1000, 1536 << 20} {
		if back, err := ParseByteSize(b.String()); err != nil || back != b {
			t.Errorf("%d prints as %q, which reads back as %d (%v)", b, b.String(), back, err)
		}
	}
}

// TestValidateStorage has one case per storage rule; each YAML is decoded
// over the defaults and wants a problem at wantKey, or none.
func TestValidateStorage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantKey string
	}{
		{"defaults", ``, ""},
		{"sizes with units", `storage: {max_bytes: {cases: 100GiB, events: 200000000000}}`, ""},
		{"a size without its unit", `storage: {max_bytes: {cases: 16}}`, "storage.max_bytes.cases"},
		{"no limit is no option", `storage: {max_bytes: {events: 0}}`, "storage.max_bytes.events"},
		{"dead letters must age", `storage: {max_age: {dead_letters: 0s}}`, "storage.max_age.dead_letters"},
		{"dead letters smaller than a few mails", `storage: {max_bytes: {dead_letters: 16MiB}}`, "storage.max_bytes.dead_letters"},
		{"events with a retention period", `storage: {max_age: {events: 43800h}}`, ""},
		{"negative age", `storage: {max_age: {reports: -1h}}`, "storage.max_age.reports"},
		{"state has no age", `storage: {max_age: {cases: 24h}}`, "parse"},
		{"warn at 100", `storage: {warn_percent: 100}`, "storage.warn_percent"},
		{"check every millisecond", `storage: {check_interval: 1ms}`, "storage.check_interval"},
		{"embedded store smaller than the limits", `nats: {embedded: {max_store: 1073741824}}`, "nats.embedded.max_store"},
		{"embedded store large enough", `nats: {embedded: {max_store: 107374182400}}`, ""},
		{"a remote cluster has its own store", "nats: {urls: [\"nats://n1:4222\"], embedded: {max_store: 1073741824}}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Default()
			if err := Decode([]byte(tc.yaml), &cfg); err != nil {
				if tc.wantKey == "parse" {
					return
				}
				t.Fatal(err)
			}
			if tc.wantKey == "parse" {
				t.Fatal("decoded an unknown key")
			}
			err := cfg.Validate()
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey+":") {
				t.Fatalf("want a problem with %s, got %v", tc.wantKey, err)
			}
		})
	}
}
