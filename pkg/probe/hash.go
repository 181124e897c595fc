package probe

import (
	"bytes"
	"crypto/md5"  //nolint:gosec // hotlines exchange MD5 of material; it is compared, not trusted for security
	"crypto/sha1" //nolint:gosec // as MD5: a reported identifier, not a security primitive
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
)

// wantHashes are the decoded confirmed hashes; nil slices are not checked.
type wantHashes struct {
	md5, sha1, sha256 []byte
}

// decode parses the hex hashes and returns nil when none is set.
func (h Hashes) decode() (*wantHashes, error) {
	if h.MD5 == "" && h.SHA1 == "" && h.SHA256 == "" {
		return nil, nil
	}
	var w wantHashes
	for _, f := range []struct {
		name string
		hex  string
		size int
		dst  *[]byte
	}{
		{"md5", h.MD5, md5.Size, &w.md5},
		{"sha1", h.SHA1, sha1.Size, &w.sha1},
		{"sha256", h.SHA256, sha256.Size, &w.sha256},
	} {
		if f.hex == "" {
			continue
		}
		b, err := hex.DecodeString(strings.TrimSpace(f.hex))
		if err != nil || len(b) != f.size {
			return nil, fmt.Errorf("decode %s hash %q: want %d hex bytes", f.name, f.hex, f.size)
		}
		*f.dst = b
	}
	return &w, nil
}

// hashBody streams the body through the wanted hashes, and SHA-256 always
// for ContentHash, reading at most MaxBodyBytes and keeping nothing. Over
// the cap the verdict is inconclusive: a prefix cannot be checked against a
// whole-file hash, and declaring gone or online on a guess would be wrong
// either way.
func (r *run) hashBody(res *Result, resp *http.Response, want *wantHashes) {
	limit := r.p.cfg.MaxBodyBytes
	if resp.ContentLength > limit {
		res.Verdict, res.Reason = Inconclusive, ReasonTooLarge
		return
	}
	s256 := sha256.New()
	writers := []io.Writer{s256}
	var hMD5, hSHA1 hash.Hash
	if want.md5 != nil {
		hMD5 = md5.New() //nolint:gosec // see import
		writers = append(writers, hMD5)
	}
	if want.sha1 != nil {
		hSHA1 = sha1.New() //nolint:gosec // see import
		writers = append(writers, hSHA1)
	}
	n, err := io.Copy(io.MultiWriter(writers...), io.LimitReader(resp.Body, limit+1))
	res.Bytes = n
	if err != nil {
		res.Verdict, res.Reason, res.TLSError = classifyError(fmt.Errorf("read body: %w", err))
		return
	}
	if n > limit {
		res.Verdict, res.Reason = Inconclusive, ReasonTooLarge
		return
	}
	sum := s256.Sum(nil)
	res.ContentHash = hex.EncodeToString(sum)
	match := (want.sha256 == nil || bytes.Equal(want.sha256, sum)) &&
		(hMD5 == nil || bytes.Equal(want.md5, hMD5.Sum(nil))) &&
		(hSHA1 == nil || bytes.Equal(want.sha1, hSHA1.Sum(nil)))
	switch {
	case match:
		res.Verdict, res.Reason = Online, ReasonHashMatch
	case encoded(resp):
		// The server compressed despite being asked not to; the bytes we
		// hashed are not the file's, so a mismatch proves nothing.
		res.Verdict, res.Reason = Inconclusive, ReasonEncodedBody
	default:
		res.Verdict, res.Reason = Gone, ReasonHashMismatch
	}
}

func encoded(resp *http.Response) bool {
	ce := strings.TrimSpace(strings.ToLower(resp.Header.Get("Content-Encoding")))
	return ce != "" && ce != "identity"
}
