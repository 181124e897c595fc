package rdap

import (
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// FuzzContacts feeds arbitrary JSON to the decoding and contact extraction
// that face the registries: it must never panic, and whatever it returns
// must be a usable address with a source.
func FuzzContacts(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixturesDir(f), "*", "*.json"))
	for _, p := range paths {
		if body, err := os.ReadFile(p); err == nil && !strings.Contains(p, "iana-bootstrap") {
			f.Add(body)
		}
	}
	own, _ := fs.Glob(rdapsim.RepoFixtures(), "*/*.json")
	for _, p := range own {
		if body, err := fs.ReadFile(rdapsim.RepoFixtures(), p); err == nil {
			f.Add(body)
		}
	}
	f.Add([]byte(`{"entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{"pref":"1"},"text",7]]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{"ip", "domain", "autnum"} {
			got := parseFixture(t.Context(), kind, body, netip.MustParseAddr("192.0.2.1"))
			if got.network != nil {
				// Never the whole address space: that would ask the
				// registry about itself.
				if q, ok := parentQuery(got.network); ok && (!q.IsValid() || q.Bits() == 0) {
					t.Errorf("parent query %s: not a network's prefix", q)
				}
			}
			contacts := got.contacts
			if got.registrar != nil {
				contacts = append(contacts, got.registrar.Contacts...)
			}
			for _, c := range contacts {
				if !strings.Contains(c.Email, "@") || c.Kind == "" || c.Server == "" {
					t.Errorf("unusable contact %+v", c)
				}
			}
		}
	})
}
