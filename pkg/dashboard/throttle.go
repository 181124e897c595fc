package dashboard

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed logins are limited per client address: tokens are long random
// secrets, but the login form is the one place a person (or a script)
// may try one after another, and each try should cost. After
// maxFailures within failureWindow from one address, its logins are
// refused until the window has passed; a good login clears the count.
const (
	maxFailures    = 10
	failureWindow  = 10 * time.Minute
	maxTrackedHost = 10000
)

type failures struct {
	first time.Time
	n     int
}

type throttle struct {
	mu  sync.Mutex
	m   map[string]*failures
	now func() time.Time
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{m: map[string]*failures{}, now: now}
}

// clientOf is the address a login counts against: the peer's IP (a proxy
// in front counts as one client, which errs on the side of refusing).
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether the client has used up its failures.
func (t *throttle) blocked(client string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[client]
	if !ok {
		return false
	}
	if t.now().Sub(f.first) > failureWindow {
		delete(t.m, client)
		return false
	}
	return f.n >= maxFailures
}

// failed counts a failed login of the client.
func (t *throttle) failed(client string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[client]
	if !ok || now.Sub(f.first) > failureWindow {
		if len(t.m) >= maxTrackedHost {
			for k, o := range t.m {
				if now.Sub(o.first) > failureWindow {
					delete(t.m, k)
				}
			}
		}
		if len(t.m) >= maxTrackedHost {
			return // full of recent failures: count none rather than grow
		}
		f = &failures{first: now}
		t.m[client] = f
	}
	f.n++
}

// succeeded clears the client's failures.
func (t *throttle) succeeded(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, client)
}
