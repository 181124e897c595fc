package notify

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// records is the notices bucket and the pointer from each contact to its
// open batch. Notices are takedown.Notice records, changed only through
// the store's compare-and-set; both buckets are read from the stream
// leader, since every read of them decides what to send.
type records struct {
	notices *store.Bucket[takedown.Notice]
	batches jetstream.KeyValue
}

// crockford is Crockford's base32 alphabet, which reads unambiguously
// over the phone: hosters quote references back to us.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newRef returns a fresh notice reference such as TD-20261126-7F3K2Q.
func newRef(now time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(crockford[c&31])
	}
	return "TD-" + now.UTC().Format("20060102") + "-" + sb.String()
}
