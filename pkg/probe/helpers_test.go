package probe

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a map and says NXDOMAIN for everything else, so
// no test ever asks a real resolver.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, host string) ([]netip.Addr, error) {
	if addrs, ok := f[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// stepClock is a clock that moves only when told to.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestProber builds a prober that can never reach a real resolver; a nil
// resolver means one that knows no names.
func newTestProber(tb testing.TB, cfg Config, res Resolver) *Prober {
	tb.Helper()
	if res == nil {
		res = fakeResolver{}
	}
	if cfg.PerHostRate == 0 {
		cfg.PerHostRate = -1
	}
	p, err := New(cfg, discardLogger(), newStepClock().Now, res)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

func hashesOf(b []byte) Hashes {
	m := md5.Sum(b)
	s1 := sha1.Sum(b)
	s256 := sha256.Sum256(b)
	return Hashes{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])}
}

func checkResult(tb testing.TB, got Result, verdict Verdict, reason string) {
	tb.Helper()
	if got.Verdict != verdict || got.Reason != reason {
		tb.Errorf("got %s/%s (status %d, final %s, tls %q), want %s/%s",
			got.Verdict, got.Reason, got.StatusCode, got.FinalURL, got.TLSError, verdict, reason)
	}
}
