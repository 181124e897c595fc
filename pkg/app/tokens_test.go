package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/scope"
)

// TestRoleNamesAgree: the configuration accepts exactly the role names the
// API knows (config imports nothing of ours, so it keeps its own list).
func TestRoleNamesAgree(t *testing.T) {
	t.Parallel()
	if !slices.Equal(config.Roles, scope.RoleNames) {
		t.Errorf("config.Roles = %v, scope.RoleNames = %v", config.Roles, scope.RoleNames)
	}
}

// TestPartnerTokenNeedsItsHotline: a partner token binds to a hotline of
// the partner directory, found there with its name and address; one the
// directory does not list is refused at start and by -check-config, with
// the token's key.
func TestPartnerTokenNeedsItsHotline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	partners := filepath.Join(dir, "partners.yaml")
	if err := os.WriteFile(partners, []byte("partners:\n  - {country: DE, name: Hotline DE, channel: email, address: in@hotline.example.de}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.Route.PartnersFile = partners
	cfg.API.Tokens = []config.Token{
		{Name: "de", Role: "partner", Partner: "DE", Token: config.Secret{Value: strings.Repeat("d", 40)}},
		{Name: "fr", Role: "partner", Partner: "FR", Token: config.Secret{Value: strings.Repeat("f", 40)}},
	}
	_, err := apiTokens(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "api.tokens[1].partner: no partner hotline for FR in "+partners) || strings.Contains(err.Error(), "tokens[0]") {
		t.Fatalf("apiTokens = %v, want the FR token refused by key", err)
	}
	cfg.API.Tokens = cfg.API.Tokens[:1]
	toks, err := apiTokens(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := toks[0].Scope.Partner; p == nil || p.Name != "Hotline DE" || p.Address != "in@hotline.example.de" || toks[0].Scope.Role != scope.Partner {
		t.Errorf("partner scope = %+v", toks[0].Scope)
	}
}
