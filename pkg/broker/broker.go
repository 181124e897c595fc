// Package broker gives takedownd its NATS connection: an embedded
// nats-server with JetStream on the data dir (the default, so one binary
// serves a small hotline), or a connection to a server or cluster elsewhere.
//
// The embedded server lets in only clients with an nkey, one per role
// (credentials.go): the daemon, the analyst tool and takedownctl, each
// allowed what its work needs. Its listener speaks TLS or stays on
// loopback unless the config says otherwise (embedded.go), and its log
// goes into ours (serverlog.go).
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
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

// Options say which NATS to open and for whom.
type Options struct {
	// Config is the nats section of the configuration.
	Config config.NATS
	// DataDir holds the embedded server's store and the seed files of the
	// roles the config names no key for.
	DataDir string
	// Name is the connection name the server shows.
	Name string
	// ReportSubject is where the analyst tool and takedownctl may publish.
	ReportSubject string
	Log           *slog.Logger
}

// Open starts the embedded server (when no URLs are configured) with a
// user per role, and connects; or connects to the servers configured.
// Errors name their cause (a port in use, a store that cannot be
// written, credentials refused) as soon as it is known.
func Open(ctx context.Context, o Options) (*Broker, error) {
	cfg, log := o.Config, o.Log
	b := &Broker{log: log}
	opts := baseOptions(o.Name, log)
	var url, shown, from string
	if len(cfg.URLs) == 0 {
		creds, err := loadCredentials(cfg.Embedded.Auth, o.DataDir, o.ReportSubject, log)
		if err != nil {
			return nil, err
		}
		srv, err := startEmbedded(cfg.Embedded, creds, filepath.Join(o.DataDir, "nats"), log)
		if err != nil {
			return nil, err
		}
		b.Server = srv
		// The daemon talks to its own server in-process: no TCP, and so no
		// TLS or client certificate, between the two halves of one process.
		pub, _ := creds.daemon.PublicKey()
		opts = append(opts, nats.InProcessServer(srv), nats.Nkey(pub, creds.daemon.Sign))
		// No URL: a tls:// one would have the client start a TLS handshake.
		url, shown, from = "", "(embedded, in-process)", "the daemon's nkey"
	} else {
		auth, f, err := remoteAuth(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
		url, shown = redactedURLs(cfg.URLs)
		from = f
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, connectError(shown, from, err)
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
