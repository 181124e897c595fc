// Package broker gives takedownd its NATS connection: an embedded
// nats-server with JetStream on the data dir (the default, so one binary
// serves a small hotline), or a connection to a server or cluster elsewhere.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/config"
)

// Broker is a live NATS connection with JetStream, and the embedded server
// when there is one.
type Broker struct {
	Conn *nats.Conn
	JS   jetstream.JetStream
	// Server is the embedded server, nil when connected elsewhere.
	Server *server.Server
	log    *slog.Logger
}

// Open starts the embedded server (when cfg.URLs is empty) and connects.
func Open(ctx context.Context, cfg config.NATS, dataDir, name string, log *slog.Logger) (*Broker, error) {
	b := &Broker{log: log}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}
	var url string
	if len(cfg.URLs) == 0 {
		srv, err := startEmbedded(cfg.Embedded, filepath.Join(dataDir, "nats"), log)
		if err != nil {
			return nil, err
		}
		b.Server = srv
		url = srv.ClientURL()
		if cfg.Embedded.InProcessOnly {
			opts = append(opts, nats.InProcessServer(srv))
		}
	} else {
		for i, u := range cfg.URLs {
			if i > 0 {
				url += ","
			}
			url += u
		}
		auth, err := authOptions(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	b.Conn = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(cfg.MaxPending))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	b.JS = js
	return b, nil
}

func startEmbedded(cfg config.Embedded, storeDir string, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "takedownd",
		JetStream:          true,
		StoreDir:           storeDir,
		JetStreamMaxStore:  cfg.MaxStore,
		NoSigs:             true,
		NoLog:              true,
		DontListen:         cfg.InProcessOnly,
		MaxPayload:         1 << 20,
		JetStreamMaxMemory: 64 << 20,
	}
	if !cfg.InProcessOnly {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("embedded nats port %q: %w", port, err)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create embedded nats-server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats-server not ready within 30s (is the port in use?)")
	}
	if cfg.InProcessOnly {
		log.Info("embedded nats-server started", "listen", "in-process only", "store", storeDir)
	} else {
		log.Info("embedded nats-server started", "listen", srv.ClientURL(), "store", storeDir)
	}
	return srv, nil
}

func authOptions(cfg config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load nats nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.User != "" {
		pw, err := cfg.Password.Resolve()
		if err != nil {
			return nil, fmt.Errorf("nats password: %w", err)
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw))
	}
	if cfg.Token.IsSet() {
		tok, err := cfg.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("nats token: %w", err)
		}
		opts = append(opts, nats.Token(tok))
	}
	if cfg.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLS.CAFile))
	}
	if cfg.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLS.CertFile, cfg.TLS.KeyFile))
	}
	return opts, nil
}

// ClientURL is where other processes (the analyst tool, the nats CLI,
// takedownctl) reach the embedded server; "" when there is none or it
// serves this process only.
func (b *Broker) ClientURL() string {
	if b.Server == nil || b.Server.Addr() == nil {
		return ""
	}
	return b.Server.ClientURL()
}

// Ready reports whether the connection is up.
func (b *Broker) Ready() bool { return b.Conn != nil && b.Conn.IsConnected() }

// Close drains the connection and then stops the embedded server, in that
// order, so that in-flight acks and publishes reach the store first.
func (b *Broker) Close() error {
	if b.Conn != nil {
		done := make(chan struct{})
		b.Conn.SetClosedHandler(func(*nats.Conn) { close(done) })
		if derr := b.Conn.Drain(); derr != nil {
			b.Conn.Close()
		} else {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				b.Conn.Close()
			}
		}
	}
	b.shutdownServer()
	return nil
}

func (b *Broker) shutdownServer() {
	if b.Server != nil {
		b.Server.Shutdown()
		b.Server.WaitForShutdown()
		b.Server = nil
	}
}
