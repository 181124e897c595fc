// Command takedownctl is the command-line client of takedownd: it submits
// confirmed reports, shows cases and lists them, and inspects and
// re-submits rejected messages. Run "takedownctl help" for the commands,
// flags, environment variables and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/takedownd/takedownd/pkg/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := ctl.Run(ctx, os.Args[1:], ctl.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Now: time.Now,
	})
	stop()
	os.Exit(code)
}
