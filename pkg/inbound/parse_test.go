package inbound

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testDomains = []string{"hotline.example"}

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSamples reads each sample as ingestion does: what kind of mail
// it is, which reference it carries and where that was found, and what of
// its text an event would keep.
func TestParseSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		bounce     bool
		auto       bool
		ref, by    string
		from       string
		keeps      string // excerpt contains
		drops      string // excerpt must not contain
		status     string // of a bounce, for the notice's recipient
		permanent  bool
		noCandidat bool
	}{
		{file: "reply-plain.eml", ref: "TD-20261126-7F3K2Q", by: "recipient", from: "abuse@hoster-a.nl",
			keeps: "We have removed the files and suspended the customer's account. Ticket #44821."},
		{file: "reply-quoted.eml", ref: "TD-20261126-7F3K2Q", by: "subject", from: "noc@hoster-a.nl",
			keeps: "The content is offline since 11:40 CET.", drops: "child sexual abuse"},
		{file: "reply-outlook.eml", ref: "TD-20261126-7F3K2Q", by: "in-reply-to", from: "servicedesk@hoster-b.nl",
			keeps: "Beste, het materiaal is verwijderd. Café terzijde", drops: "Verzonden"},
		{file: "autoreply-ooo.eml", auto: true, ref: "TD-20261126-7F3K2Q", by: "recipient", from: "j.jansen@hoster-a.nl",
			keeps: "out of the office"},
		{file: "dsn-postfix-511.eml", bounce: true, ref: "TD-20261126-7F3K2Q", by: "original", status: "5.1.1", permanent: true},
		{file: "dsn-exim.eml", bounce: true, ref: "TD-20261126-9B4M1X", by: "original", status: "5.0.0", permanent: true},
		{file: "dsn-delayed.eml", bounce: true, ref: "TD-20261126-7F3K2Q", by: "original", status: "4.4.1"},
		{file: "bounce-qmail.eml", bounce: true, ref: "TD-20261126-7F3K2Q", by: "original", status: "5.1.1", permanent: true},
		{file: "junk.eml", from: "promo@cheap-pills.example", noCandidat: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			p, err := parse(sample(t, tt.file))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := p.Bounce != nil; got != tt.bounce {
				t.Errorf("bounce = %v, want %v", got, tt.bounce)
			}
			if p.Auto != tt.auto {
				t.Errorf("auto = %v, want %v", p.Auto, tt.auto)
			}
			cands := candidates(p, testDomains, nil)
			if tt.noCandidat {
				if len(cands) != 0 {
					t.Errorf("candidates %+v, want none", cands)
				}
			} else if len(cands) == 0 || cands[0].Ref != tt.ref || cands[0].By != tt.by {
				t.Errorf("candidates %+v, want %s by %s first", cands, tt.ref, tt.by)
			}
			if tt.from != "" && p.From != tt.from {
				t.Errorf("from %q, want %q", p.From, tt.from)
			}
			if tt.bounce {
				d := deliveryOf(p, "abuse@hoster-a.nl")
				if d.Status != tt.status || d.Permanent != tt.permanent {
					t.Errorf("delivery %+v, want status %s permanent %v", d, tt.status, tt.permanent)
				}
				return
			}
			ex := excerpt(p.Text)
			if !strings.Contains(ex, tt.keeps) {
				t.Errorf("excerpt %q lacks %q", ex, tt.keeps)
			}
			if tt.drops != "" && strings.Contains(ex, tt.drops) {
				t.Errorf("excerpt %q keeps the quoted %q", ex, tt.drops)
			}
		})
	}
}

func TestExcerptBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"quoted lines dropped", "done\n> old\n>> older\nthanks", "done thanks"},
		{"signature cut", "removed.\n-- \nJan\nHoster", "removed."},
		{"outlook original cut", "ok\n-----Original Message-----\nFrom: x", "ok"},
		{"dutch quote header cut", "verwijderd\nOp do 26 nov. 2026 om 10:05 schreef Hotline <a@b>:\n> x", "verwijderd"},
		{"long text bounded", strings.Repeat("é", 600), strings.Repeat("é", maxExcerpt) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := excerpt(tt.text); got != tt.want {
				t.Errorf("excerpt = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCandidatesIgnoreForeignPlusAddresses(t *testing.T) {
	t.Parallel()
	p := parsed{Recipients: []string{"list+TD-20261126-AAAAAA@elsewhere.example", "abuse+td-20261126-bbbbbb@HOTLINE.example"}}
	c := candidates(p, testDomains, nil)
	if len(c) != 1 || c[0].Ref != "TD-20261126-BBBBBB" {
		t.Errorf("candidates %+v, want only the upper-cased reference at our domain", c)
	}
}

func TestValidRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  string
		want bool
	}{
		{"TD-20261126-7F3K2Q", true},
		{"TD-0000000000000A01-R1", true},
		{"TD-2026", false},
		{"TD-20261126-7F3K2Q.x", false},
		{"../TD-20261126-7F3K2Q", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidRef(tt.ref); got != tt.want {
			t.Errorf("ValidRef(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

func TestExcerptKeepsOwnWroteLine(t *testing.T) {
	t.Parallel()
	if got, want := excerpt("We wrote to the customer:\nplease remove it."), "We wrote to the customer: please remove it."; got != want {
		t.Errorf("excerpt = %q, want %q", got, want)
	}
}
