package app

import (
	"path/filepath"

	"github.com/takedownd/takedownd/pkg/verp"
)

// VERPSecretFileName is the tag secret's file in the data directory when
// notify.verp.secret_file is not set.
const VERPSecretFileName = "verp-secret"

// verpSigner returns the one signer notify makes envelope senders with and
// inbound checks them with, loading (or at first start creating) its
// secret; nil when VERP is off.
func (a *App) verpSigner() (*verp.Signer, error) {
	cfg := a.cfg.Notify.VERP
	if cfg.Disabled {
		return nil, nil
	}
	if a.verp != nil {
		return a.verp, nil
	}
	path := cfg.SecretFile
	if path == "" {
		path = filepath.Join(a.cfg.DataDir, VERPSecretFileName)
	}
	key, created, err := verp.LoadKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		a.log.Info("created verp secret", "file", path)
	}
	s, err := verp.New(a.cfg.Notify.From, key)
	if err != nil {
		return nil, err
	}
	a.verp = s
	return s, nil
}
