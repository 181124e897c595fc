package store

import (
	"bytes"

	"github.com/nats-io/nats.go/jetstream"
)

// Every committed change of a case is two writes: the record with the
// change's events in its outbox, then the same record without them
// (outbox.go). The watchers that follow every case write (the case index,
// the statistics) decode each one, and half of what they decode is that
// second write, which changes nothing they keep: in a million-report
// burst the two watchers took 19 % of the daemon's CPU. clearWatch spots
// the second write by its bytes, so that they skip its decode.
//
// caseRecord's outbox is its last field, so json.Marshal writes the
// record with events as the record without them followed by
// `,"outbox":[…]` and the closing brace. A write whose bytes are exactly
// the previous write's up to its first `,"outbox":[`, closed, is that
// record with its outbox dropped: cut anywhere but at a member of the
// top-level object the bytes would not be valid JSON, which every record
// written by json.Marshal is, and the top-level member named outbox is the
// outbox.
type clearWatch struct {
	// kept is, per case whose last write had an outbox, that write's
	// bytes before it. An entry lives from a write to the case's next one:
	// a few per worker in flight, plus those whose drop was lost to a crash
	// until the outbox sweep drops it.
	kept map[string][]byte
}

var outboxMember = []byte(`,"outbox":[`)

func newClearWatch() *clearWatch { return &clearWatch{kept: map[string][]byte{}} }

// dropsOutbox reports whether e is the case's previous write with only its
// outbox dropped, and remembers e for the case's next write.
func (w *clearWatch) dropsOutbox(e jetstream.KeyValueEntry) bool {
	key := e.Key()
	before, had := w.kept[key]
	delete(w.kept, key)
	if e.Operation() != jetstream.KeyValuePut {
		return false
	}
	v := e.Value()
	if i := bytes.Index(v, outboxMember); i > 0 {
		w.kept[key] = v[:i]
	}
	return had && len(v) == len(before)+1 && v[len(v)-1] == '}' && bytes.Equal(v[:len(before)], before)
}
