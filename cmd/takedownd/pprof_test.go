package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestPprofLoopbackOnly: profiles show URLs held in memory, so -pprof
// refuses any address but loopback (checked before anything listens).
func TestPprofLoopbackOnly(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"10.0.0.1:6060", "0.0.0.0:6060", ":6060", "example.org:6060"} {
		if err := servePprof(addr, log); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("-pprof %s: %v, want a refusal naming loopback", addr, err)
		}
	}
	if err := servePprof("127.0.0.1:0", log); err != nil {
		t.Errorf("-pprof 127.0.0.1:0: %v", err)
	}
}
