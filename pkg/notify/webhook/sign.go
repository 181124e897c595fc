package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a forward request.
const (
	HeaderTimestamp   = "X-Takedown-Timestamp"
	HeaderSignature   = "X-Takedown-Signature"
	HeaderIdempotency = "Idempotency-Key"
)

// Sign returns the signature header value for body sent at timestamp (Unix
// seconds): "sha256=" and the hex HMAC-SHA256 over timestamp + "." + body.
// The timestamp is inside the MAC so a captured request cannot be replayed
// later with a fresh timestamp.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("timestamp outside the allowed skew")
)

// Verify checks a forward request as its receiver: the signature must match
// the body and timestamp, and the timestamp must lie within maxSkew of now.
func Verify(secret []byte, timestamp string, body []byte, signature string, now time.Time, maxSkew time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("verify webhook: timestamp %q: %w", timestamp, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("verify webhook: %w (off by %s)", ErrStale, d.Round(time.Second))
	}
	got, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("verify webhook: %w: want sha256=<hex>", ErrBadSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("verify webhook: %w: %w", ErrBadSignature, err)
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, timestamp, body), "sha256="))
	if !hmac.Equal(gotMAC, want) {
		return fmt.Errorf("verify webhook: %w", ErrBadSignature)
	}
	return nil
}
