package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/takedownd/takedownd/pkg/config"
)

const reports = "takedown.reports"

// embeddedConfig is an embedded server on a random loopback port.
func embeddedConfig() config.NATS {
	n := config.Default().NATS
	n.Embedded.Listen = "127.0.0.1:0"
	return n
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openBroker(t *testing.T, cfg config.NATS, dir string, log *slog.Logger) *Broker {
	t.Helper()
	b, err := Open(t.Context(), Options{Config: cfg, DataDir: dir, Name: "test", ReportSubject: reports, Log: log})
	if err != nil {
		t.Fatalf("open broker: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// client connects as role r with the seed the daemon wrote to dir. Every
// permission violation the server reports lands on refused.
func client(t *testing.T, b *Broker, dir string, r Role) (nc *nats.Conn, refused <-chan error) {
	t.Helper()
	ch := make(chan error, 16)
	opts, err := ClientOptions(r, SeedFile(dir, r))
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			ch <- err
		}
	}))
	nc, err = nats.Connect(b.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", r, err)
	}
	t.Cleanup(nc.Close)
	return nc, ch
}

// wantRefused waits for the server to refuse something with a violation
// that names subject.
func wantRefused(t *testing.T, refused <-chan error, what, subject string) {
	t.Helper()
	select {
	case err := <-refused:
		if !strings.Contains(err.Error(), `"`+subject+`"`) {
			t.Errorf("%s: refusal %q does not name %s", what, err, subject)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s: the server did not refuse it", what)
	}
}

func TestConnectionWithoutCredentialsIsRefused(t *testing.T) {
	t.Parallel()
	b := openBroker(t, embeddedConfig(), t.TempDir(), discard())
	nc, err := nats.Connect(b.ClientURL())
	if err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was let in")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("err = %v, want an authorization violation", err)
	}
	stranger := filepath.Join(t.TempDir(), "stranger.nk")
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	if err := os.WriteFile(stranger, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := ClientOptions(RoleAnalyst, stranger)
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(b.ClientURL(), opts...); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("unknown nkey: err = %v, want an authorization violation", err)
	}
}

// The analyst tool and takedownctl may publish reports and receive their
// acknowledgement, and nothing else: no JetStream API, no KV, no other
// subject, and no reply meant for the daemon.
func TestRestrictedRolesMayOnlyPublishReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBroker(t, embeddedConfig(), dir, discard())
	daemon, _ := client(t, b, dir, RoleDaemon)
	for _, r := range []Role{RoleAnalyst, RoleCtl} {
		nc, refused := client(t, b, dir, r)

		// Allowed: a report reaches a subscriber, a reply on _INBOX reaches us.
		got, err := daemon.SubscribeSync(reports)
		if err != nil {
			t.Fatal(err)
		}
		if err := daemon.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(reports, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if _, err := got.NextMsg(30 * time.Second); err != nil {
			t.Errorf("%s: report not delivered: %v", r, err)
		}
		_ = got.Unsubscribe()
		inbox := nats.NewInbox()
		replies, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := daemon.Publish(inbox, []byte("ack")); err != nil {
			t.Fatal(err)
		}
		if _, err := replies.NextMsg(30 * time.Second); err != nil {
			t.Errorf("%s: reply on %s not delivered: %v", r, inbox, err)
		}

		for _, subj := range []string{
			"$JS.API.STREAM.LIST",
			"$JS.API.DIRECT.GET.KV_takedown_cases.$KV.takedown_cases.0000000000000001",
			"$JS.API.CONSUMER.CREATE.KV_takedown_cases",
			"$KV.takedown_cases.0000000000000001",
			"takedown.work.enrich",
			"takedown.reports.extra",
		} {
			if err := nc.Publish(subj, []byte("x")); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, refused, string(r)+" publish", subj)
		}
		for _, subj := range []string{">", "$KV.takedown_cases.>", "takedown.events.>", InboxPrefix + ".>", reports} {
			if _, err := nc.SubscribeSync(subj); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, refused, string(r)+" subscribe", subj)
		}
	}
}

// The daemon's key may do everything, but only with its own inbox
// prefix, so that no reply to it passes where others may listen.
func TestDaemonRepliesStayOffTheSharedInbox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBroker(t, embeddedConfig(), dir, discard())
	if got := b.Conn.Opts.InboxPrefix; got != InboxPrefix {
		t.Errorf("the daemon's connection uses inbox prefix %q, want %q", got, InboxPrefix)
	}
	ch := make(chan error, 1)
	key, err := nats.NkeyOptionFromSeed(SeedFile(dir, RoleDaemon))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(b.ClientURL(), key, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { ch <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("_INBOX.x.>"); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, ch, "daemon key on the shared inbox", "_INBOX.x.>")
}

func TestCredentialFilesAreMadeOnceAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBroker(t, embeddedConfig(), dir, discard())
	first := map[Role][]byte{}
	for _, r := range []Role{RoleDaemon, RoleAnalyst, RoleCtl} {
		fi, err := os.Stat(SeedFile(dir, r))
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s seed file mode %v, want 0600", r, fi.Mode().Perm())
		}
		first[r], _ = os.ReadFile(SeedFile(dir, r))
		if !bytes.HasPrefix(first[r], []byte("SU")) {
			t.Errorf("%s seed file does not hold a user seed", r)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBroker(t, embeddedConfig(), dir, discard())
	for r, want := range first {
		if got, _ := os.ReadFile(SeedFile(dir, r)); !bytes.Equal(got, want) {
			t.Errorf("%s seed file changed on restart", r)
		}
	}
	client(t, b, dir, RoleAnalyst) // the old key still gets in
}

// With public keys in the config, no seed file is made for that role, and
// only the named keys get in.
func TestConfiguredKeysReplaceGeneratedOnes(t *testing.T) {
	t.Parallel()
	dir, keys := t.TempDir(), t.TempDir()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	own := filepath.Join(keys, "analyst.nk")
	if err := os.WriteFile(own, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := embeddedConfig()
	cfg.Embedded.Auth.AnalystKeys = []string{pub}
	b := openBroker(t, cfg, dir, discard())
	if _, err := os.Stat(SeedFile(dir, RoleAnalyst)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an analyst seed file was made though the config names the key: %v", err)
	}
	opts, err := ClientOptions(RoleAnalyst, own)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(b.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("the configured analyst key was refused: %v", err)
	}
	nc.Close()

	missing := embeddedConfig()
	missing.Embedded.Auth.DaemonSeedFile = filepath.Join(keys, "none.nk")
	_, err = Open(t.Context(), Options{Config: missing, DataDir: t.TempDir(), ReportSubject: reports, Log: discard()})
	if err == nil || !strings.Contains(err.Error(), "none.nk") {
		t.Errorf("a named daemon seed file that does not exist: err = %v, want it named", err)
	}
}

// recorder is a slog handler that keeps what was logged.
type recorder struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	next slog.Handler
}

func newRecorder() (*recorder, *slog.Logger) {
	r := &recorder{}
	r.next = slog.NewTextHandler(&r.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	return r, slog.New(lockedHandler{r, r.next})
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

type lockedHandler struct {
	r *recorder
	slog.Handler
}

func (h lockedHandler) Handle(ctx context.Context, rec slog.Record) error {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	return h.Handler.Handle(ctx, rec)
}

func (h lockedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return lockedHandler{h.r, h.Handler.WithAttrs(as)}
}

func (h lockedHandler) WithGroup(name string) slog.Handler {
	return lockedHandler{h.r, h.Handler.WithGroup(name)}
}

// The seeds never reach the log; the server's own complaints do.
func TestLogNamesFilesNotSeeds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec, log := newRecorder()
	b := openBroker(t, embeddedConfig(), dir, log)
	for _, r := range []Role{RoleDaemon, RoleAnalyst, RoleCtl} {
		seed, _ := os.ReadFile(SeedFile(dir, r))
		if strings.Contains(rec.String(), strings.TrimSpace(string(seed))) {
			t.Errorf("the %s seed was logged", r)
		}
		if !strings.Contains(rec.String(), SeedFile(dir, r)) {
			t.Errorf("the creation of %s was not logged", SeedFile(dir, r))
		}
	}
	if nc, err := nats.Connect(b.ClientURL()); err == nil {
		nc.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(rec.String(), "component=nats-server") || !strings.Contains(rec.String(), "level=WARN msg=\"127.0.0.1") {
		if time.Now().After(deadline) {
			t.Fatalf("the server's refusal of a client did not reach our log:\n%s", rec.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
