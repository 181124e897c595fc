package retryafter

import (
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
	}{
		{"absent", "", 0, false},
		{"seconds", "5", 5 * time.Second, true},
		{"seconds with spaces around", " 120 ", 2 * time.Minute, true},
		{"zero seconds", "0", 0, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"negative is not delay-seconds", "-5", 0, false},
		{"plus sign is not delay-seconds", "+5", 0, false},
		{"fraction is not delay-seconds", "1.5", 0, false},
		{"more digits than a duration holds", "99999999999999999999999", time.Duration(math.MaxInt64), true},
		{"IMF-fixdate", "Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"RFC 850 date", "Thursday, 26-Nov-26 12:01:00 GMT", time.Minute, true},
		{"asctime date", "Thu Nov 26 12:00:10 2026", 10 * time.Second, true},
		{"date in the past waits nothing", "Thu, 26 Nov 2026 11:00:00 GMT", 0, true},
		{"garbage", "soon", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Parse(tc.value, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"5", "Thu, 26 Nov 2026 12:00:30 GMT", "", "-1", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := Parse(v, now); d < 0 || (!ok && d != 0) {
			t.Errorf("Parse(%q) = %v, %v", v, d, ok)
		}
	})
}
