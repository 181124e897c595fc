package natstest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used, user and system: with an
// embedded server, the server's work is in it too. Benchmarks report it
// per unit of work beside their rates, which follow the machine's load
// far more than the CPU a unit costs.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
