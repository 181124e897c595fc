package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/broker"
)

// TestClusterFromTheseFiles runs the deployment in the test process: the
// three nodes from deploy/nats/ (only their addresses and stores moved to
// loopback ports and temp dirs, nats.env from the generator in the
// environment), and a replica from deploy/takedownd-replica.yaml with the
// generated credentials. The replica becomes ready with its streams on
// three nodes, the analyst's key publishes a report and reads nothing,
// the daemon's key reads. deploy/local-cluster.sh runs the same as
// processes, with two replicas and a report through to its notice.
func TestClusterFromTheseFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster and a replica")
	}
	routes := make([]string, len(nodes))
	for i := range nodes {
		routes[i] = freeAddr(t)
	}
	h := layoutReplicaHost(t, routes)
	nodeEnv(t, h.creds)
	var urls []string
	for i, n := range nodes {
		opts := nodeOptions(t, n.file)
		host, port, _ := net.SplitHostPort(routes[i])
		opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT, 0
		opts.Cluster.Host = host
		fmt.Sscan(port, &opts.Cluster.Port)
		opts.StoreDir = t.TempDir()
		opts.NoLog, opts.NoSigs = true, true
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("%s: %v", n.file, err)
		}
		srv.Start()
		t.Cleanup(srv.Shutdown)
		if !srv.ReadyForConnections(30 * time.Second) {
			t.Fatalf("%s: not ready for connections", n.name)
		}
		urls = append(urls, srv.ClientURL())
	}

	cfg, err := app.LoadConfig(h.config, "")
	if err != nil {
		t.Fatal(err)
	}
	// Addresses on loopback; and nothing that would reach the internet:
	// no IANA bootstrap refresh, no enrichment (the report below is
	// never looked up). GeoIP's stand-in files are not databases.
	cfg.NATS.URLs, cfg.API.Listen = urls, "127.0.0.1:0"
	cfg.Enrich.Enabled, cfg.Enrich.RDAP.BootstrapURL = false, ""
	cfg.Enrich.GeoIP.CountryPath, cfg.Enrich.GeoIP.ASNPath = "", ""
	cfg.NATS.SetupRetries = 60 // the cluster may still be electing its meta leader
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Log: discard()})
	if err != nil {
		cancel()
		t.Fatalf("start the replica: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica stopped: %v", err)
		}
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.apiCA)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, 2*time.Minute, "GET /readyz answers 200", func() bool {
		resp, err := client.Get("https://" + a.APIAddr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	creds := filepath.Join(h.root, "etc/takedownd/credentials")
	daemon, _ := connect(t, urls, broker.RoleDaemon, broker.SeedFile(creds, broker.RoleDaemon))
	djs, _ := jetstream.New(daemon)
	info, err := djs.Stream(t.Context(), cfg.Intake.Stream)
	if err != nil {
		t.Fatalf("the daemon's key reads stream %s: %v", cfg.Intake.Stream, err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("stream %s has %d replicas, want 3", cfg.Intake.Stream, r)
	}

	analyst, refused := connect(t, urls, broker.RoleAnalyst, broker.SeedFile(creds, broker.RoleAnalyst))
	ajs, _ := jetstream.New(analyst)
	msg := nats.NewMsg(cfg.Intake.Subject)
	msg.Data = []byte(`{"report_id":"deploy-1","url":"http://host.invalid/a.jpg","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`)
	msg.Header.Set(jetstream.MsgIDHeader, "deploy-1")
	pctx, pcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer pcancel()
	if _, err := ajs.PublishMsg(pctx, msg); err != nil {
		t.Errorf("the analyst's key publishes a report: %v", err)
	}
	const cases = "$JS.API.STREAM.INFO.KV_takedown_cases"
	if _, err := analyst.Request(cases, nil, 5*time.Second); err == nil {
		t.Error("the analyst's key asked JetStream about the cases bucket and was answered")
	}
	select {
	case err := <-refused:
		if !strings.Contains(err.Error(), cases) {
			t.Errorf("the server refused the analyst %v, want the publish to %s", err, cases)
		}
	case <-time.After(30 * time.Second):
		t.Error("the server did not refuse the analyst's request to JetStream's API")
	}
}

// connect is a client of the cluster with a role's generated seed;
// refused receives the permission violations the server reports.
func connect(t *testing.T, urls []string, r broker.Role, seed string) (nc *nats.Conn, refused <-chan error) {
	t.Helper()
	opts, err := broker.ClientOptions(r, seed)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 16)
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			select {
			case ch <- err:
			default:
			}
		}
	}))
	waitFor(t, time.Minute, fmt.Sprintf("a %s connection", r), func() bool {
		nc, err = nats.Connect(strings.Join(urls, ","), opts...)
		return err == nil
	})
	t.Cleanup(nc.Close)
	return nc, ch
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds, failing after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
