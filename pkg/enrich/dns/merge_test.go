package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	temp := fmt.Errorf("query: %w", ErrTemporary)
	v4 := familyResult{addrs: addrs("192.0.2.1"), ttl: 300, server: "s4"}
	v6 := familyResult{addrs: addrs("2001:db8::1"), ttl: 600, server: "s6"}
	nx := familyResult{nx: true, ttl: 60}
	nodata := familyResult{ttl: 60}
	tests := []struct {
		name        string
		v4, v6      familyResult
		wantAddrs   int
		wantPartial bool
		wantErr     error
		wantCache   time.Duration
	}{
		{"both families", v4, v6, 2, false, nil, 300 * time.Second},
		{"v4 and v6 nodata", v4, nodata, 1, false, nil, 300 * time.Second},
		{"v6 failed temporarily", v4, familyResult{err: temp}, 1, true, nil, time.Minute},
		{"both failed", familyResult{err: temp}, familyResult{err: temp}, 0, false, ErrTemporary, 0},
		{"nxdomain", nx, nx, 0, false, ErrNXDomain, time.Minute},
		{"nodata", nodata, nodata, 0, false, ErrNoData, time.Minute},
		{"nodata and failure is a failure", nodata, familyResult{err: temp}, 0, false, ErrTemporary, 0},
		{"loop beats addresses", v4, familyResult{err: ErrCNAMELoop}, 0, false, ErrCNAMELoop, time.Minute},
	}
	r := &Resolver{cfg: Config{NegativeTTL: time.Minute}.withDefaults()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, cacheFor := r.merge("h.test.", tc.v4, tc.v6)
			if !errors.Is(e.err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", e.err, tc.wantErr)
			}
			if e.err == nil && len(e.answer.Addrs) != tc.wantAddrs {
				t.Errorf("addrs = %v, want %d", e.answer.Addrs, tc.wantAddrs)
			}
			if e.answer.Partial != tc.wantPartial {
				t.Errorf("partial = %v, want %v", e.answer.Partial, tc.wantPartial)
			}
			if tc.wantErr != ErrTemporary && cacheFor != tc.wantCache {
				t.Errorf("cached for %v, want %v", cacheFor, tc.wantCache)
			}
		})
	}
}

func TestResolveCallerGivesUp(t *testing.T) {
	t.Parallel()
	srv := dnssim.Start(t)
	srv.AddAddr("h.example.test", 60, netip.MustParseAddr("192.0.2.1"))
	release := srv.Hold("h.example.test")
	defer release()
	r := newResolver(t, Config{Servers: []string{srv.Addr()}}, newClock())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := r.Resolve(ctx, "h.example.test")
		done <- err
	}()
	for srv.QueriesFor("h.example.test") < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, ErrTemporary) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want temporary and canceled", err)
	}
	// The shared lookup carries on for later callers.
	release()
	a, err := r.Resolve(t.Context(), "h.example.test")
	if err != nil || len(a.Addrs) != 1 {
		t.Errorf("after release: %v, %v", a, err)
	}
}
