package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/takedownd/takedownd/pkg/config"
)

// Role is one kind of client of the embedded server. Each has its own nkey
// and only the permissions its work needs, so a leaked analyst key can add
// reports but never read a case.
type Role string

// The roles. Their names are also the names of their seed files.
const (
	// RoleDaemon is takedownd itself (and its replicas): everything.
	RoleDaemon Role = "takedownd"
	// RoleAnalyst is the analyst tool: it publishes reports and receives
	// the JetStream acknowledgement, nothing else.
	RoleAnalyst Role = "analyst"
	// RoleCtl is takedownctl: it publishes reports (submit, dlq resubmit);
	// what it reads, it reads through the status API with a token.
	RoleCtl Role = "takedownctl"
)

// InboxPrefix is where replies to takedownd's own requests arrive (KV
// reads, consumer fetches). The analyst and takedownctl may subscribe to
// _INBOX.> for their acknowledgements; a reply to the daemon carries case
// records, so it must travel on subjects they cannot subscribe to. The
// daemon's key may not subscribe to _INBOX.> at all, so that a person who
// borrows it (nats --nkey …) must use this prefix too.
const InboxPrefix = "_INBOX_takedownd"

// SeedFile is the file in dataDir that holds a role's nkey seed when the
// config names no key for the role; the daemon creates it at first start.
func SeedFile(dataDir string, r Role) string {
	return filepath.Join(dataDir, "nats-"+string(r)+".nk")
}

// Permissions are what role r may do on a NATS server; reports is
// intake's subject. The embedded server gives them to its users; a
// cluster's configuration gives the same to the same roles
// (deploy/nats/takedown.conf, which a test holds to this).
func Permissions(r Role, reports string) *server.Permissions {
	if r == RoleDaemon {
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"_INBOX.>"}},
		}
	}
	// A JetStream publish is a request to the stream's subject; the ack
	// comes back on the client's _INBOX. No $JS.API access is needed.
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{reports}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// credentials are the embedded server's users and the daemon's own key.
type credentials struct {
	users  []*server.NkeyUser
	daemon nkeys.KeyPair
}

// loadCredentials reads the seed files named in the config or found in
// dataDir, creating those that are missing, and builds one nkey user per
// key with its role's permissions.
func loadCredentials(cfg config.EmbeddedAuth, dataDir, reports string, log *slog.Logger) (credentials, error) {
	var cr credentials
	daemonFile := cfg.DaemonSeedFile
	if daemonFile == "" {
		daemonFile = SeedFile(dataDir, RoleDaemon)
	}
	kp, err := seed(daemonFile, cfg.DaemonSeedFile == "", RoleDaemon, log)
	if err != nil {
		return cr, err
	}
	cr.daemon = kp
	pub, err := kp.PublicKey()
	if err != nil {
		return cr, fmt.Errorf("read %s nkey: %w", RoleDaemon, err)
	}
	cr.add(pub, RoleDaemon, reports)
	for _, rk := range []struct {
		role Role
		keys []string
	}{{RoleAnalyst, cfg.AnalystKeys}, {RoleCtl, cfg.CtlKeys}} {
		if len(rk.keys) > 0 {
			for _, k := range rk.keys {
				cr.add(k, rk.role, reports)
			}
			continue
		}
		kp, err := seed(SeedFile(dataDir, rk.role), true, rk.role, log)
		if err != nil {
			return cr, err
		}
		pub, err := kp.PublicKey()
		kp.Wipe() // only the daemon signs; the others' seeds are for their owners
		if err != nil {
			return cr, fmt.Errorf("read %s nkey: %w", rk.role, err)
		}
		cr.add(pub, rk.role, reports)
	}
	return cr, nil
}

func (cr *credentials) add(pub string, r Role, reports string) {
	cr.users = append(cr.users, &server.NkeyUser{Nkey: pub, Permissions: Permissions(r, reports)})
}

// UserSeed reads the user nkey seed in path, or creates the file (mode
// 0600, never over an existing one) when there is none, logging the file
// and its public key. r names the key's owner in messages.
func UserSeed(path string, r Role, log *slog.Logger) (nkeys.KeyPair, error) {
	return seed(path, true, r, log)
}

// seed reads the user nkey seed in path, or creates the file (owner-only,
// never overwriting) when create is set and there is none.
func seed(path string, create bool, r Role, log *slog.Logger) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kp, perr := nkeys.ParseDecoratedNKey(b)
		clear(b)
		if perr != nil {
			return nil, fmt.Errorf("read %s nkey seed %s: %w", r, path, perr)
		}
		if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicUserKey(pub) {
			return nil, fmt.Errorf("read %s nkey seed %s: not a user seed (SU…)", r, path)
		}
		if fi, serr := os.Stat(path); serr == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("nats seed file is readable by others; chmod 600 it", "role", string(r), "file", path, "mode", fi.Mode().Perm().String())
		}
		return kp, nil
	case !errors.Is(err, fs.ErrNotExist) || !create:
		return nil, fmt.Errorf("read %s nkey seed: %w", r, err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("generate %s nkey: %w", r, err)
	}
	s, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("generate %s nkey: %w", r, err)
	}
	line := append(append([]byte(nil), s...), '\n') // s is the key's own seed: do not touch it
	defer clear(line)
	if err := writeNew(path, line); err != nil {
		return nil, fmt.Errorf("create %s nkey seed: %w", r, err)
	}
	pub, _ := kp.PublicKey()
	log.Info("created nats credentials", "role", string(r), "file", path, "public_key", pub)
	return kp, nil
}

// writeNew writes a file readable by its owner only, and never over an
// existing one: a key already handed out must not change under its user.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
