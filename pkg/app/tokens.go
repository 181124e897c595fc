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
	"github.com/takedownd/takedownd/pkg/route"
	"github.com/takedownd/takedownd/pkg/scope"
)

// TokenFileName is the token file in the data dir, created at first start
// when the config names no token. takedownctl reads it.
const TokenFileName = "api-token"

// apiTokens are the configured tokens with their scopes, or the one admin
// token of the data dir when the configuration names none. A partner
// token's hotline comes from the partner directory.
func apiTokens(cfg config.Config, log *slog.Logger) ([]api.Token, error) {
	partners, err := tokenPartners(cfg)
	if err != nil {
		return nil, err
	}
	var out []api.Token
	for i, t := range cfg.API.Tokens {
		secret, err := t.Token.Resolve()
		if err != nil {
			return nil, fmt.Errorf("api.tokens[%d].token: %w", i, err)
		}
		role, err := scope.ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("api.tokens[%d].role: %w", i, err)
		}
		sc := scope.Scope{Token: t.Name, Role: role, Domains: t.Domains, ASNs: t.ASNs}
		if t.Partner != "" {
			p := partners[t.Partner]
			sc.Partner = &scope.PartnerHotline{Country: p.Country, Name: p.Name, Address: p.Address}
		}
		out = append(out, api.Token{Secret: secret, Scope: sc})
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
	return []api.Token{{Secret: secret, Scope: scope.Scope{Token: "local", Role: scope.Admin}}}, nil
}

// tokenPartners reads the partner directory when a partner token names a
// hotline, and checks that each one is in it.
func tokenPartners(cfg config.Config) (map[string]route.Partner, error) {
	var problems config.Problems
	var partners map[string]route.Partner
	for i, t := range cfg.API.Tokens {
		if t.Partner == "" {
			continue
		}
		if partners == nil {
			var err error
			if partners, err = route.LoadPartners(cfg.Route.PartnersFile); err != nil {
				return nil, err
			}
		}
		if _, ok := partners[t.Partner]; !ok {
			where := "the built-in partner directory"
			if cfg.Route.PartnersFile != "" {
				where = cfg.Route.PartnersFile
			}
			problems = append(problems, config.Problem{Key: fmt.Sprintf("api.tokens[%d].partner", i), Reason: fmt.Sprintf("no partner hotline for %s in %s (route.partners_file)", t.Partner, where)})
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return partners, nil
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
