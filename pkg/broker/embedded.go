package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/takedownd/takedownd/pkg/config"
)

// readyTimeout bounds the wait for a server that started without a fatal
// error; every failure we know of is reported before that (serverLog).
const readyTimeout = 10 * time.Second

// startEmbedded runs a nats-server with JetStream on storeDir that lets
// in only the users in creds, and waits until it takes connections.
func startEmbedded(cfg config.Embedded, creds credentials, storeDir string, log *slog.Logger) (*server.Server, error) {
	if err := cfg.CheckExposure(); err != nil {
		return nil, err
	}
	if err := checkStoreDir(storeDir); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:         "takedownd",
		JetStream:          true,
		StoreDir:           storeDir,
		JetStreamMaxStore:  cfg.MaxStore,
		NoSigs:             true,
		DontListen:         cfg.InProcessOnly,
		MaxPayload:         1 << 20,
		JetStreamMaxMemory: 64 << 20,
		Nkeys:              creds.users,
		AuthTimeout:        2,
	}
	if !cfg.InProcessOnly {
		host, port, err := listenAddr(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
		if cfg.TLS.Enabled() {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
				CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile,
				CaFile: cfg.TLS.ClientCAFile, Verify: cfg.TLS.ClientCAFile != "",
			})
			if err != nil {
				return nil, fmt.Errorf("load nats.embedded.tls: %w", err)
			}
			opts.TLS, opts.TLSConfig, opts.TLSVerify = true, tc, cfg.TLS.ClientCAFile != ""
			opts.TLSTimeout = 2
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create embedded nats-server: %w", err)
	}
	srvLog := newServerLog(log)
	srv.SetLoggerV2(srvLog, false, false, false)
	srv.Start()
	if err := waitReady(srv, srvLog); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}
	listen := "in-process only"
	if !cfg.InProcessOnly {
		listen = srv.ClientURL()
	}
	log.Info("embedded nats-server started", "listen", listen, "tls", cfg.TLS.Enabled(), "client_certs", cfg.TLS.ClientCAFile != "", "store", storeDir)
	return srv, nil
}

// waitReady waits until the server takes connections, or returns the
// fatal error it reported (Start reports those before it returns).
func waitReady(srv *server.Server, srvLog *serverLog) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if err := srvLog.err(); err != nil {
			return fmt.Errorf("start embedded nats-server: %w", err)
		}
		if srv.ReadyForConnections(100 * time.Millisecond) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded nats-server not ready within %s", readyTimeout)
		}
	}
}

// listenAddr parses nats.embedded.listen and checks that the address can
// be bound, so that a port in use is named as such at once.
func listenAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("nats.embedded.listen %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("nats.embedded.listen %q: port %w", addr, err)
	}
	if p == 0 {
		return host, server.RANDOM_PORT, nil
	}
	// The server binds the same address right after; a listener without
	// connections leaves nothing behind that would stop it.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", 0, fmt.Errorf("nats.embedded.listen %s: %w", addr, err)
	}
	if err := ln.Close(); err != nil {
		return "", 0, fmt.Errorf("nats.embedded.listen %s: %w", addr, err)
	}
	return host, p, nil
}

// checkStoreDir makes the JetStream store dir and proves it writable, so
// that a read-only disk or a wrong owner is named before the server starts.
func checkStoreDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create nats store dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("nats store dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	errs := []error{f.Close(), os.Remove(name)}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats store dir %s is not writable: %w", dir, err)
	}
	return nil
}
