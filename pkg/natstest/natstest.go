// Package natstest starts NATS for tests: one embedded server with
// JetStream (Start), or a JetStream cluster of several in the test process
// (StartCluster).
// Nothing in production imports it.
package natstest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running test server with a client connection.
type Server struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
	Dir    string
}

// Start runs a JetStream-enabled nats-server on a random loopback port with
// its store in a temp dir; it is shut down when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir())
}

// StartIn is Start with the store kept in dir, so a test can restart a
// server on the same data.
func StartIn(tb testing.TB, dir string) *Server {
	tb.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("start nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(waitBound) {
		tb.Fatalf("nats-server not ready within %s", waitBound)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		srv.Shutdown()
		tb.Fatalf("connect nats: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		tb.Fatalf("jetstream: %v", err)
	}
	tb.Cleanup(func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return &Server{Server: srv, Conn: nc, JS: js, Dir: dir}
}
