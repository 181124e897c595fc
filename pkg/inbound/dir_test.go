package inbound

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// kindByContent is a fake Ingestor that answers by the message's first
// byte: 'u' unmatched, 'e' an error, anything else a reply.
type kindByContent struct{ seen []string }

func (k *kindByContent) Ingest(_ context.Context, raw []byte) (Result, error) {
	k.seen = append(k.seen, string(raw))
	switch raw[0] {
	case 'u':
		return Result{Kind: KindUnmatched}, nil
	case 'e':
		return Result{}, errors.New("nats down")
	}
	return Result{Kind: KindReply}, nil
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestDirScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		files               map[string]string // relative path → content
		done, failed, stays []string
		err                 bool
	}{
		{
			name:  "matched to done, unmatched to failed, others ignored",
			files: map[string]string{"a.eml": "reply", "b.eml": "unmatched", "c.tmp": "reply", ".d.eml": "reply", "e.eml.tmp": "reply", "empty.eml": "", "new/1764147940.M1P2.host": "reply", "tmp/1764147941.M2P2.host": "reply"},
			done:  []string{"1764147940.M1P2.host", "a.eml"}, failed: []string{"b.eml"}, stays: []string{".d.eml", "c.tmp", "e.eml.tmp", "empty.eml"},
		},
		{
			name:   "too large to failed without ingesting",
			files:  map[string]string{"big.eml": "r" + string(make([]byte, 200))},
			failed: []string{"big.eml"},
		},
		{
			name:  "an error leaves the message for the next scan",
			files: map[string]string{"a.eml": "reply", "b.eml": "error", "c.eml": "reply"},
			done:  []string{"a.eml"}, stays: []string{"b.eml", "c.eml"}, err: true,
		},
		{
			name:  "a name taken in done is not overwritten",
			files: map[string]string{"a.eml": "reply", "done/a.eml": "earlier"},
			done:  []string{"a.eml", "a.eml.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			ing := &kindByContent{}
			d, err := NewDir(DirConfig{Dir: root, MaxMessageBytes: 100}, ing, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			for name, content := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			// A top-level file is taken on the second scan that sees it
			// unchanged; the first takes only what is complete by contract.
			if _, err := d.Scan(t.Context()); err != nil {
				t.Fatalf("first scan: %v", err)
			}
			_, err = d.Scan(t.Context())
			if (err != nil) != tt.err {
				t.Fatalf("scan error %v, want error %v", err, tt.err)
			}
			for _, c := range []struct {
				sub  string
				want []string
			}{{"done", tt.done}, {"failed", tt.failed}, {"", tt.stays}} {
				if got := listDir(t, filepath.Join(root, c.sub)); !slices.Equal(got, c.want) {
					t.Errorf("%s/ holds %v, want %v", c.sub, got, c.want)
				}
			}
			if slices.Contains(ing.seen, "r"+string(make([]byte, 200))) {
				t.Error("a file over the size limit was ingested")
			}
		})
	}
}

// A file copied into the directory in place is taken only once it stops
// changing, and then whole; a maildir delivery into new/ at once.
func TestDirWaitsForCompleteFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	ing := &kindByContent{}
	d, err := NewDir(DirConfig{Dir: root, MaxMessageBytes: 1000}, ing, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "m.eml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scan := func(want int) {
		t.Helper()
		n, err := d.Scan(t.Context())
		if err != nil || n != want {
			t.Fatalf("scan took %d (err %v), want %d", n, err, want)
		}
	}
	for _, part := range []string{"reply, first part", " and the second"} {
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		scan(0) // changed since the last scan: still being written
	}
	scan(1)
	if want := "reply, first part and the second"; len(ing.seen) != 1 || ing.seen[0] != want {
		t.Errorf("ingested %q, want only %q", ing.seen, want)
	}

	// A maildir writer: deliver into tmp/, rename into new/.
	tmp := filepath.Join(root, "tmp", "1764147942.M3P2.host")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("reply from maildir"), 0o640); err != nil {
		t.Fatal(err)
	}
	scan(0)
	if err := os.MkdirAll(filepath.Join(root, "new"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "new", filepath.Base(tmp))); err != nil {
		t.Fatal(err)
	}
	scan(1)
}
