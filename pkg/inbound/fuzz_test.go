package inbound

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzIngest feeds arbitrary bytes through everything Ingest does short of
// NATS: parsing, DSN reading, reference matching, the delivery status and
// the excerpt. None of it may panic, and what reaches a KV key or an event
// must be a valid reference and valid UTF-8.
func FuzzIngest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n\r\n\r\n--x--"))
	f.Add([]byte("To: a+TD-20261126-AAAAAA@hotline.example\r\nIn-Reply-To: <<<>>\r\n\r\n>"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := parse(raw)
		if err != nil {
			return
		}
		for _, c := range candidates(p, testDomains, nil) {
			if !ValidRef(c.Ref) {
				t.Fatalf("candidate %q is no valid reference", c.Ref)
			}
		}
		if ex := excerpt(p.Text); !utf8.ValidString(ex) || utf8.RuneCountInString(ex) > maxExcerpt+1 {
			t.Fatalf("excerpt %q is invalid or too long", ex)
		}
		if p.Bounce != nil {
			d := deliveryOf(p, "abuse@hoster-a.nl")
			if d.Permanent && d.Temporary {
				t.Fatalf("delivery both permanent and temporary: %+v", d)
			}
		}
	})
}
