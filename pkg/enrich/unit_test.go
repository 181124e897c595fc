package enrich

import (
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/takedown"
)

func TestOnlyRefused(t *testing.T) {
	t.Parallel()
	addrs := func(ips ...string) []takedown.AddressInfo {
		out := make([]takedown.AddressInfo, len(ips))
		for i, ip := range ips {
			out[i] = takedown.AddressInfo{IP: ip}
		}
		return out
	}
	tests := []struct {
		name  string
		addrs []takedown.AddressInfo
		want  []string // substrings of the reason; none means actionable
	}{
		{"no address known", nil, nil},
		{"one public address", addrs("185.0.1.10"), nil},
		{"public among refused", addrs("10.0.0.1", "185.0.1.10"), nil},
		{"loopback only", addrs("127.0.0.1"), []string{"127.0.0.1 (loopback)"}},
		{"cgnat and private", addrs("100.64.0.1", "192.168.1.1"), []string{"100.64.0.1 (shared-cgnat)", "192.168.1.1 (private)"}},
		{"ipv6 unique local", addrs("fd00::1"), []string{"fd00::1 (private)"}},
		{"nat64 of loopback", addrs("64:ff9b::7f00:1"), []string{"embeds loopback"}},
		{"unreadable address", addrs("not-an-ip"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := onlyRefused(tc.addrs)
			if (got == "") != (len(tc.want) == 0) {
				t.Fatalf("onlyRefused = %q, want containing %q", got, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("onlyRefused = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
