package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so an id read
// out over the phone is not misheard, and ids sort as their numbers do.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func base32Fixed(v uint64, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = crockford[v&31]
		v >>= 5
	}
	return string(b)
}

// CaseID derives a case id from the intake message that created the case:
// its stream time and sequence. Redelivery of the same message derives the
// same id, so a crash between steps cannot create a second case; ids sort
// by time, which makes "received since/until" a key range.
func CaseID(streamTime time.Time, seq uint64) string {
	ms := uint64(streamTime.UnixMilli())
	return base32Fixed(ms, 9) + base32Fixed(seq, 7)
}

// base32Value is the number base32Fixed wrote as s.
func base32Value(s string) (uint64, bool) {
	var v uint64
	for _, c := range s {
		i := strings.IndexRune(crockford, c)
		if i < 0 {
			return 0, false
		}
		v = v<<5 | uint64(i)
	}
	return v, true
}

// CaseIDTime returns the time encoded in a case id (millisecond precision).
func CaseIDTime(id string) (time.Time, bool) {
	if len(id) != 16 {
		return time.Time{}, false
	}
	ms, ok := base32Value(id[:9])
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(ms)).UTC(), true
}

// CaseIDSeq returns the stream sequence encoded in a case id: that of the
// intake message whose id it is.
func CaseIDSeq(id string) (uint64, bool) {
	if !ValidCaseID(id) {
		return 0, false
	}
	return base32Value(id[9:])
}

// IDPrefixFor is the smallest case id at or after t: a bound for range scans.
func IDPrefixFor(t time.Time) string { return base32Fixed(uint64(t.UnixMilli()), 9) }

// ValidCaseID reports whether id has the shape of a case id, so that user
// input never reaches a subject or key unchecked.
func ValidCaseID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune(crockford, c) {
			return false
		}
	}
	return true
}

// keyOf hashes free text (report ids) into a valid KV key.
func keyOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
