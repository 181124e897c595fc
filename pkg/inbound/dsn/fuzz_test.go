package dsn

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse. It may refuse input without
// a header, but never panic, and what it returns must hold together:
// valid UTF-8 where an event will quote it, bounded lists, and a hard
// bounce only for a failed delivery.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "*.eml"))
	if dir, err := findBounceFixtures(); err == nil {
		more, _ := filepath.Glob(filepath.Join(dir, "maildir", "bsd", "lhost-*-0[1-3].eml"))
		files = append(files, more...)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From x\nContent-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n\n--x--"))
	f.Add([]byte("From: MAILER-DAEMON@x\nSubject: failure notice\n\n<a@b.c>:\n550 5.1.1 user unknown\n--- Below this line is a copy of the message.\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := Parse(raw)
		if err != nil {
			return
		}
		if len(rep.Recipients) > maxRecipients {
			t.Fatalf("%d recipients", len(rep.Recipients))
		}
		if rep.IsFailure() && len(rep.Recipients) == 0 {
			t.Fatalf("failure report %q without a recipient", rep.Kind)
		}
		for _, rc := range rep.Recipients {
			for _, s := range []string{rc.Address, rc.Diagnostic, rc.Reason, rc.Status, rc.Action} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %+v", rc)
				}
			}
			if len(rc.Diagnostic) > 2*maxDiag {
				t.Fatalf("diagnostic of %d bytes", len(rc.Diagnostic))
			}
			if rc.Permanent && !rc.Failed() {
				t.Fatalf("permanent but not failed: %+v", rc)
			}
			if rc.Status != "" && statusCode(rc.Status) == "" {
				t.Fatalf("status %q is no status code", rc.Status)
			}
		}
	})
}
