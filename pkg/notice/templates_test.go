package notice

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// TestConfigTemplatesMatchEmbedded keeps config/templates/, which a hotline
// copies, identical to the templates compiled into the binary.
func TestConfigTemplatesMatchEmbedded(t *testing.T) {
	t.Parallel()
	embedded, err := DefaultTemplates()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "config", "templates")
	onDisk, err := readTemplates(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) == 0 || len(onDisk) != len(embedded) {
		t.Fatalf("config/templates has %d files, embedded %d", len(onDisk), len(embedded))
	}
	for name, want := range embedded {
		if got, ok := onDisk[name]; !ok || !bytes.Equal(got, want) {
			t.Errorf("config/templates/%s differs from pkg/notice/templates/%s; copy it over", name, name)
		}
	}
}

func TestTemplateOverride(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		files    map[string]string
		wantErr  bool
		wantBody string
	}{
		{
			name:     "replace english text",
			files:    map[string]string{"en.tmpl": `{{define "en-subject"}}Takedown{{end}}{{define "en"}}Custom {{.Ref}}{{end}}`},
			wantBody: "Custom TD-O",
		},
		{
			name:    "broken template",
			files:   map[string]string{"en.tmpl": `{{define "en"}}{{.Ref}`},
			wantErr: true,
		},
		{
			name:     "unrelated file ignored",
			files:    map[string]string{"README": "not a template"},
			wantBody: "Dear abuse team,",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := NewRenderer(Config{TemplateDir: dir})
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewRenderer accepted a broken template")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := r.Render(baseNotice("TD-O", KindFirst, "en", LevelHoster))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Body, tt.wantBody) {
				t.Errorf("body %q lacks %q", m.Body, tt.wantBody)
			}
		})
	}
}

func TestDKIMSignature(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(Config{DKIM: &DKIM{Domain: "hotline.example", Selector: "td", Signer: priv}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render(baseNotice("TD-DKIM", KindFirst, "nl", LevelHoster))
	if err != nil {
		t.Fatal(err)
	}
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	lookup := func(domain string) ([]string, error) {
		if domain != "td._domainkey.hotline.example" {
			t.Errorf("looked up %s", domain)
		}
		return []string{record}, nil
	}
	tests := []struct {
		name    string
		raw     []byte
		wantErr bool
	}{
		{name: "as signed", raw: m.Raw},
		{name: "subject changed", raw: bytes.Replace(m.Raw, []byte("Subject: [TD-DKIM]"), []byte("Subject: [TD-EVIL]"), 1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(tt.raw), &dkim.VerifyOptions{LookupTXT: lookup})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 {
				t.Fatalf("got %d signatures, want 1", len(vs))
			}
			if gotErr := vs[0].Err != nil; gotErr != tt.wantErr {
				t.Errorf("verification error = %v, want error %v", vs[0].Err, tt.wantErr)
			}
		})
	}
}
