package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryShare is the part of the machine's (or the container's) memory
// the Go runtime aims to stay under when no GOMEMLIMIT is set. The
// embedded NATS server keeps recently read message blocks in memory, so
// in a burst of a million cases the heap grows with the store; without a
// limit the collector lets it reach twice the live heap and the kernel's
// OOM killer ends the daemon mid-burst. With it, the collector works
// harder as memory fills instead. It is a soft limit: a live heap larger
// than it still runs, slower.
const memoryShare = 0.8

// gcPercent is the collector's GOGC when the operator set none. The
// default 100 lets the heap grow to twice the live heap between
// collections; in a burst the collector then took 15 % of the CPU the
// pipeline needed (a million-report profile). 200 halves the collections;
// the soft memory limit above still bounds the heap, so on a small machine
// the collector works harder as memory fills, as before.
const gcPercent = 200

// setGCPercent sets gcPercent unless GOGC is set; it returns what it did,
// for the log.
func setGCPercent() string {
	if v := os.Getenv("GOGC"); v != "" {
		return "GOGC=" + v + " (from the environment)"
	}
	debug.SetGCPercent(gcPercent)
	return strconv.Itoa(gcPercent)
}

// setMemoryLimit sets the runtime's soft memory limit from the cgroup's
// memory.max or, outside a limited cgroup, the machine's MemTotal, unless
// the operator set GOMEMLIMIT. It returns what it did, for the log.
func setMemoryLimit() string {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return "GOMEMLIMIT=" + v + " (from the environment)"
	}
	total, from := availableMemory()
	if total <= 0 {
		return "none (the memory size could not be read)"
	}
	limit := int64(float64(total) * memoryShare)
	debug.SetMemoryLimit(limit)
	return fmt.Sprintf("%d MiB (%.0f %% of %s)", limit>>20, memoryShare*100, from)
}

func availableMemory() (int64, string) {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n, "the cgroup's memory.max"
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10, "MemTotal"
			}
		}
	}
	return 0, ""
}
