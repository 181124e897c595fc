// Package retryafter reads the HTTP Retry-After header (RFC 9110, section
// 10.2.3), which servers send with 429 and 503 to say when to come back.
// Every HTTP client of the daemon (RDAP lookups, partner webhooks) reads
// it here, so they agree on what a header means.
package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse returns how long to wait from now as the header value v says,
// and whether v was a valid Retry-After: delay-seconds (digits only) or an
// HTTP-date in any of the three forms HTTP allows. A date in the past, or
// "0", is a valid zero wait. Absent or malformed values are (0, false):
// the caller then falls back on its own backoff. Callers cap the result:
// a server may ask for days.
func Parse(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > math.MaxInt64/int64(time.Second) {
			// More digits than a Duration holds: as long as it can be.
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
