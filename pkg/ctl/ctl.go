// Package ctl is takedownctl, the command-line client of takedownd: it
// submits confirmed reports to the report stream, reads cases through the
// status API and inspects and re-submits dead letters. cmd/takedownctl only
// hands it the process's arguments, streams and environment; tests run it
// in-process with their own.
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Exit codes a script can test for.
const (
	ExitOK           = 0 // the command did what was asked
	ExitError        = 1 // runtime failure: server unreachable, 5xx, publish not acknowledged
	ExitUsage        = 2 // bad flags or arguments, or an invalid report
	ExitNotFound     = 3 // no such case or dead letter
	ExitUnauthorized = 4 // the API refused the token (401/403) or NATS the credentials, or no token was found
	ExitRefused      = 5 // the action does not fit the case as it stands (409)
)

// Env is the outside world of one invocation. Tests fill it with buffers
// and a map lookup so that nothing touches the real process environment.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up an environment variable; nil means none are set.
	Getenv func(string) string
	// Now is the clock for confirmed_at and ids; nil means time.Now.
	Now func() time.Time
	// HTTP is the API client; nil means a plain client (each call still
	// has its own deadline from -timeout).
	HTTP *http.Client
}

func (e Env) getenv(key string) string {
	if e.Getenv == nil {
		return ""
	}
	return strings.TrimSpace(e.Getenv(key))
}

func (e Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// exitError carries the exit code decided where the error was first seen.
// complete marks a usage error whose message already says all there is
// (an invalid report), so no pointer to the help follows it.
type exitError struct {
	code     int
	err      error
	complete bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// invalidReport is a usage error for reports that failed validation.
func invalidReport(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...), complete: true}
}

func usagef(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// exitCode maps an error to the exit code: ExitError unless it says otherwise.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, c *cli, args []string) error

// cli is one invocation: its environment and the connection settings
// shared by every subcommand.
type cli struct {
	env  Env
	conn connFlags
}

// Run runs takedownctl with args (without the program name) and returns
// the process exit code. Errors are written to env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	c := &cli{env: env}
	c.conn.defaults(env)
	err := c.dispatch(ctx, args)
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintln(env.Stderr, "takedownctl:", err)
	code := exitCode(err)
	var ee *exitError
	if code == ExitUsage && !(errors.As(err, &ee) && ee.complete) {
		fmt.Fprintln(env.Stderr, "run 'takedownctl help' for usage")
	}
	return code
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	// Connection flags may come before the command as well as after it.
	global := c.flagSet("takedownctl")
	if err := global.Parse(args); err != nil {
		return err
	}
	args = global.Args()
	if len(args) == 0 {
		fmt.Fprint(c.env.Stderr, usageText)
		return withCode(ExitUsage, errors.New("no command given"))
	}
	commands := map[string]command{
		"submit":   runSubmit,
		"show":     runShow,
		"list":     runList,
		"dlq":      runDLQ,
		"tokens":   runTokens,
		"contacts": runContacts,
		// review is the review queue: the cases routing could not send to
		// anyone, which a person must decide on.
		"review": func(ctx context.Context, c *cli, args []string) error {
			return runList(ctx, c, append([]string{"-state", "review", "-all"}, args...))
		},
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.env.Stdout, usageText)
		return nil
	}
	for verb := range actionVerbs {
		commands[verb] = runAction
	}
	cmd, ok := commands[name]
	if !ok {
		return usagef("unknown command %q (want submit, show, list, review, dlq, tokens, contacts, an action — %s — or help)", name, verbList())
	}
	if _, isAction := actionVerbs[name]; isAction {
		rest = append([]string{name}, rest...)
	}
	return cmd(ctx, c, rest)
}

// flagSet returns a flag set with the connection flags registered, whose
// errors come back to the caller instead of exiting the process.
func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.conn.register(fs)
	return fs
}

// parse parses flags that may sit between and after positional arguments
// ("submit URL -classification A1") and returns the positional ones.
func parse(fs *flag.FlagSet, args []string, w io.Writer) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(w, "usage of %s (see 'takedownctl help'):\n", fs.Name())
				fs.SetOutput(w)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, withCode(ExitUsage, fmt.Errorf("%s: %w", fs.Name(), err))
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
