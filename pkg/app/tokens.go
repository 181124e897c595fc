package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/config"
)

// TokenFileName is the token file in the data dir, created at first start
// when the config names no token. takedownctl reads it.
const TokenFileName = "api-token"

func apiTokens(cfg config.Config, log *slog.Logger) ([]api.Token, error) {
	var out []api.Token
	for i, t := range cfg.API.Tokens {
		secret, err := t.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("api.tokens[%d].token: %w", i, err)
		}
		role, err := api.ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("api.tokens[%d].role: %w", i, err)
		}
		out = append(out, api.Token{Name: t.Name, Role: role, Secret: secret})
	}
	if len(out) > 0 {
		return out, nil
	}
	path := filepath.Join(cfg.DataDir, TokenFileName)
	secret, created, err := localToken(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created api token (admin role); takedownctl reads it from the file", "file", path)
	} else {
		log.Info("using api token from file", "file", path)
	}
	return []api.Token{{Name: "local", Role: api.RoleAdmin, Secret: secret}}, nil
}

// localToken reads the token file, or creates it with a new random token
// readable by the owner only.
func localToken(path string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", false, fmt.Errorf("api token file %s is empty", path)
		}
		return tok, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read api token file: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate api token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("create api token file: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("write api token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("write api token file: %w", err)
	}
	return tok, true, nil
}
