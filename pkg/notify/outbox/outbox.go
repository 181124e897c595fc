// Package outbox stands in for a mail relay when none is configured: every
// message is written to <data>/outbox/<ref>.eml, so a fresh install runs end
// to end without sending mail and an operator can read what would have gone out.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/takedownd/takedownd/pkg/notify/smtp"
)

// Outbox writes messages as .eml files. Its Send has the signature of
// smtp.Sender.Send, so the two are interchangeable.
type Outbox struct {
	dir string
	log *slog.Logger
}

// New returns an Outbox writing to dataDir/outbox, creating it if needed.
func New(dataDir string, logger *slog.Logger) (*Outbox, error) {
	dir := filepath.Join(dataDir, "outbox")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create outbox: %w", err)
	}
	return &Outbox{dir: dir, log: logger}, nil
}

// Dir is the directory the files go to.
func (o *Outbox) Dir() string { return o.dir }

var safeRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Ref names the file of msg: its X-Takedown-Ref header, else a digest of
// the message, so the same message always lands in the same file.
func Ref(msg []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(msg))).ReadMIMEHeader()
	if ref := strings.TrimSpace(h.Get("X-Takedown-Ref")); (err == nil || ref != "") && safeRef.MatchString(ref) && !strings.Contains(ref, "..") {
		return ref
	}
	sum := sha256.Sum256(msg)
	return "msg-" + hex.EncodeToString(sum[:16])
}

// Send writes msg to <ref>.eml, replacing an earlier file of the same
// reference whole (write to a temporary file, then rename), so a resend
// after a crash leaves one complete file. Every recipient counts as accepted.
func (o *Outbox) Send(ctx context.Context, from string, rcpts []string, msg []byte) smtp.Result {
	res := smtp.Result{}
	if err := ctx.Err(); err != nil {
		res.Err = fmt.Errorf("write outbox: %w", err)
		for _, r := range rcpts {
			res.Recipients = append(res.Recipients, smtp.RecipientResult{Rcpt: r, Outcome: smtp.Temporary, Reply: err.Error()})
		}
		return res
	}
	ref := Ref(msg)
	path := filepath.Join(o.dir, ref+".eml")
	var buf bytes.Buffer
	// The envelope goes in front as headers so a reader sees who it was for.
	fmt.Fprintf(&buf, "X-Outbox-Mail-From: <%s>\r\n", from)
	fmt.Fprintf(&buf, "X-Outbox-Rcpt-To: <%s>\r\n", strings.Join(rcpts, ">, <"))
	buf.Write(msg)
	err := writeAtomic(path, buf.Bytes())
	outcome, reply := smtp.Accepted, "written to "+path
	if err != nil {
		outcome, reply, res.Err = smtp.Temporary, err.Error(), err
		o.log.Error("write outbox", "ref", ref, "err", err)
	} else {
		o.log.Info("notice written to outbox", "ref", ref, "rcpts", len(rcpts))
	}
	for _, r := range rcpts {
		res.Recipients = append(res.Recipients, smtp.RecipientResult{Rcpt: r, Outcome: outcome, Reply: reply})
	}
	return res
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	return nil
}
