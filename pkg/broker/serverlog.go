package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// serverLog routes the embedded nats-server's log into ours, so that its
// warnings and errors (a client refused, a store that cannot be written)
// are seen. Notices go to debug: the server prints a banner of them at
// every start. A fatal error is one the server reports instead of
// returning (it cannot listen, JetStream cannot start): it is logged and
// kept, so that start-up can return it at once instead of waiting for a
// readiness that will never come.
type serverLog struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal error
}

var _ server.Logger = (*serverLog)(nil)

func newServerLog(log *slog.Logger) *serverLog {
	return &serverLog{log: log.With("component", "nats-server")}
}

// Noticef implements server.Logger.
func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }

// Warnf implements server.Logger.
func (l *serverLog) Warnf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }

// Errorf implements server.Logger. An error about one client (the server
// starts those with "<address> - cid:<n> - ": a client refused, one that
// went away) is that client's problem, not ours: a warning.
func (l *serverLog) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, " - cid:") {
		l.log.Warn(msg)
		return
	}
	l.log.Error(msg)
}

// Debugf implements server.Logger; the server calls it only when its
// debug logging is on, which we never turn on.
func (l *serverLog) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }

// Tracef implements server.Logger. Traces show message payloads (URLs of
// abuse material), so they are dropped even if tracing were turned on.
func (l *serverLog) Tracef(string, ...any) {}

// Fatalf implements server.Logger. Unlike the server's own logger it
// does not exit the process: the error goes back to Open.
func (l *serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal == nil {
		l.fatal = errors.New(msg)
	}
}

// err is the first fatal error the server reported, if any.
func (l *serverLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
