package outbox

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/notify/smtp"
)

func newOutbox(t *testing.T) *Outbox {
	t.Helper()
	o, err := New(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSendWritesOneFilePerRef(t *testing.T) {
	t.Parallel()
	msgA := []byte("X-Takedown-Ref: TD-2026-11-26-7F3K2Q\r\nSubject: a\r\n\r\nfirst\r\n")
	msgA2 := []byte("X-Takedown-Ref: TD-2026-11-26-7F3K2Q\r\nSubject: a\r\n\r\nresent\r\n")
	msgB := []byte("Subject: no ref\r\n\r\nbody\r\n")
	tests := []struct {
		name      string
		sends     [][]byte
		wantFiles int
		wantLast  string
		wantName  string
	}{
		{name: "one message", sends: [][]byte{msgA}, wantFiles: 1, wantLast: "first", wantName: "TD-2026-11-26-7F3K2Q.eml"},
		{name: "resend replaces", sends: [][]byte{msgA, msgA2}, wantFiles: 1, wantLast: "resent", wantName: "TD-2026-11-26-7F3K2Q.eml"},
		{name: "same message twice", sends: [][]byte{msgB, msgB}, wantFiles: 1, wantLast: "body"},
		{name: "two refs", sends: [][]byte{msgA, msgB}, wantFiles: 2, wantLast: "first", wantName: "TD-2026-11-26-7F3K2Q.eml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOutbox(t)
			for _, m := range tt.sends {
				res := o.Send(t.Context(), "abuse@hotline.example", []string{"abuse@hoster.example"}, m)
				if res.Err != nil || len(res.Accepted()) != 1 {
					t.Fatalf("Send = %+v", res)
				}
			}
			entries, err := os.ReadDir(o.Dir())
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != tt.wantFiles {
				t.Fatalf("outbox holds %d files, want %d", len(entries), tt.wantFiles)
			}
			name := tt.wantName
			if name == "" {
				name = Ref(tt.sends[0]) + ".eml"
			}
			b, err := os.ReadFile(filepath.Join(o.Dir(), name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tt.wantLast)) || !bytes.Contains(b, []byte("X-Outbox-Rcpt-To: <abuse@hoster.example>")) {
				t.Errorf("file content %q", b)
			}
		})
	}
}

func TestRefRejectsPathTricks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  string
	}{
		{name: "parent dir", ref: "../../etc/passwd"},
		{name: "dots", ref: "a..b"},
		{name: "slash", ref: "a/b"},
		{name: "empty", ref: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Ref([]byte("X-Takedown-Ref: " + tt.ref + "\r\n\r\nbody"))
			if !strings.HasPrefix(got, "msg-") {
				t.Errorf("Ref = %q, want a digest name", got)
			}
		})
	}
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	o := newOutbox(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := o.Send(ctx, "abuse@hotline.example", []string{"abuse@hoster.example"}, []byte("Subject: x\r\n\r\n"))
	if res.Err == nil || res.Recipients[0].Outcome != smtp.Temporary {
		t.Errorf("Send on a cancelled context = %+v", res)
	}
}
