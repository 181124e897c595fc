package app

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// The daemon reads the contact book enrich.contacts.path names, and its
// entry decides whom the first notice goes to.
func TestContactBookInTheDaemon(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	prefix := netip.MustParsePrefix("185.70.1.0/24")
	sn := simnetEnrich(t, &cfg, []geoipsim.Network{{Prefix: prefix, Country: "NL", ASN: 64530, Org: "Booked B.V."}})
	if err := sn.RDAP.Server("ripe").AddNetwork(rdapsim.Network{Prefix: prefix, Handle: "BOOKED-NET", Country: "NL", AbuseEmail: "noc@booked.example"}); err != nil {
		t.Fatal(err)
	}
	sn.DNS.AddAddr("www.booked-site.nl", 300, netip.MustParseAddr("185.70.1.10"))
	book := filepath.Join(t.TempDir(), "contacts.yaml")
	if err := os.WriteFile(book, []byte("contacts:\n  - name: Booked desk\n    networks: [185.70.1.0/24]\n    emails: [desk@booked.example]\n    machine_readable: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Enrich.Contacts.Path = book
	d := startDaemon(t, cfg)
	u := "http://www.booked-site.nl/a.jpg"
	d.publish(report("book-1", u), "")
	d.settle()
	v := d.waitEnrichment(u)
	wantEnriched(t, v)
	cs := v.Case.Enrichment.Contacts
	if len(cs) < 2 || cs[0].Email != "desk@booked.example" || cs[0].Role != "hoster" || cs[0].Source.Kind != "contact_book" || !cs[0].MachineReadable ||
		cs[1].Email != "noc@booked.example" {
		t.Fatalf("contacts = %+v, want the book's desk first, RDAP's behind", cs)
	}
	deadline := time.Now().Add(waitBound)
	for v.Case.Routing == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		v = d.caseByURL(u)
	}
	if r := v.Case.Routing; r == nil || len(r.Contacts) == 0 || r.Contacts[0].Email != "desk@booked.example" {
		t.Errorf("routing = %+v, want the first notice to the book's desk", v.Case.Routing)
	}
}

func TestContactBookConfiguredButMissing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	simnetEnrich(t, &cfg, nil)
	cfg.Enrich.Contacts.Path = filepath.Join(t.TempDir(), "none.yaml")
	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	a, err := New(ctx, Options{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		_ = a.Close()
		t.Fatal("the daemon started without the contact book its configuration names")
	}
	if !strings.Contains(err.Error(), "contact book") {
		t.Errorf("err = %v, want it to name the contact book", err)
	}
}
