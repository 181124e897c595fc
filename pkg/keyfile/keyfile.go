// Package keyfile keeps the daemon's own secrets in files of the data
// directory: read when present, created at first start (32 random bytes,
// hex, readable by the owner only) when not. VERP tags and the retention
// hash key are kept this way.
package keyfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// MinLength is the shortest secret a file may hold.
const MinLength = 32

// Load reads the secret from path, or creates it there when the file does
// not exist yet; created says which. what names the secret in errors
// ("verp secret").
func Load(path, what string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < MinLength {
			return nil, false, fmt.Errorf("%s file %s holds fewer than %d characters", what, path, MinLength)
		}
		return []byte(k), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read %s file: %w", what, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, fmt.Errorf("generate %s: %w", what, err)
	}
	k := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create %s file: %w", what, err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write %s file: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write %s file: %w", what, err)
	}
	return []byte(k), true, nil
}
