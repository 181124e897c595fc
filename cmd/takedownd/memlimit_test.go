package main

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// TestMemoryLimit: without GOMEMLIMIT the runtime's soft limit is set to
// a share of what the machine (or cgroup) has; with it, the operator's
// value stands.
func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	total, from := availableMemory()
	if total <= 0 {
		t.Fatalf("no memory size read (from %q)", from)
	}
	got := setMemoryLimit()
	limit := debug.SetMemoryLimit(-1)
	if want := int64(float64(total) * memoryShare); limit != want {
		t.Errorf("limit %d, want %d (%s of %d from %s)", limit, want, got, total, from)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "3GiB")
	if got := setMemoryLimit(); !strings.Contains(got, "from the environment") {
		t.Errorf("with GOMEMLIMIT set: %q", got)
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the daemon changed the limit to %d", limit)
	}
}

// TestGCPercent: without GOGC the collector runs at gcPercent; with it,
// the operator's value stands.
func TestGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	setGCPercent()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC unset: gc percent %d, want %d", got, gcPercent)
	}
	t.Setenv("GOGC", "50")
	if got := setGCPercent(); !strings.Contains(got, "from the environment") {
		t.Errorf("with GOGC set: %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the daemon changed the gc percent to %d", got)
	}
}
