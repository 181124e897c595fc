package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Redactor makes the redacted copy of one event of a trail; raw is the
// original message as the events stream holds it. It returns false for
// an event that stays as it is.
type Redactor func(ev takedown.Event, raw []byte) (takedown.Event, bool)

// errTrailLags is a trail read that missed events the stream leader has.
var errTrailLags = errors.New("the timeline read lags the stream leader")

// RedactTimeline replaces events of a case's trail by the copies fn makes
// of them (retention, when it anonymises a case). Each copy is appended
// under the message id "redacted-<event id>" and, once the stream has
// acknowledged it, the original is erased: overwritten on disk, not only
// dropped from the index (SecureDeleteMsg). A copy carries the original's
// sequence (takedown.Redaction), so every gap the erasure leaves on the
// subject is accounted for by one copy. Run again after a stop, it erases
// originals whose copy is already on the trail and copies the rest; it
// returns how many copies the trail holds.
//
// The trail is read by direct get and checked against the stream leader's
// count of the subject's messages, so a lagging replica cannot make it
// leave an original behind unredacted.
func (s *Store) RedactTimeline(ctx context.Context, caseID string, fn Redactor) (int, error) {
	if !ValidCaseID(caseID) {
		return 0, fmt.Errorf("case %q: %w", caseID, ErrNotFound)
	}
	subject := EventsPrefix + caseID
	stream, err := s.js.Stream(ctx, EventsStream)
	if err != nil {
		return 0, fmt.Errorf("bind %s: %w", EventsStream, err)
	}
	msgs, err := s.readSubject(ctx, EventsStream, subject)
	if err != nil {
		return 0, fmt.Errorf("read timeline of %s: %w", caseID, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0, fmt.Errorf("count timeline of %s: %w", caseID, err)
	}
	if n := info.State.Subjects[subject]; n != uint64(len(msgs)) {
		return 0, fmt.Errorf("redact timeline of %s: %w (%d read, %d on the leader)", caseID, errTrailLags, len(msgs), n)
	}
	copied := map[uint64]bool{}
	events := make([]takedown.Event, len(msgs))
	for i, msg := range msgs {
		if err := json.Unmarshal(msg.Data, &events[i]); err != nil {
			// Unreadable by this version: it may hold anything, so it is
			// erased like an original, its copy saying only when it was.
			events[i] = takedown.Event{CaseID: caseID, Type: "unreadable"}
		}
		events[i].Seq = msgSeq(msg)
		if r := events[i].Redacted; r != nil {
			copied[r.Seq] = true
		}
	}
	copies := len(copied)
	var erase []uint64
	for i, msg := range msgs {
		seq := events[i].Seq
		switch {
		case events[i].Redacted != nil:
			continue
		case copied[seq]:
			erase = append(erase, seq)
			continue
		}
		cp, redact := fn(events[i], msg.Data)
		if !redact {
			continue
		}
		if cp.Redacted == nil || cp.Redacted.Seq != seq {
			return copies, fmt.Errorf("redact event %d of %s: the copy does not name its original", seq, caseID)
		}
		if err := s.appendCopy(ctx, cp); err != nil {
			return copies, err
		}
		copies++
		erase = append(erase, seq)
	}
	for _, seq := range erase {
		if err := stream.SecureDeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return copies, fmt.Errorf("erase event %d of %s: %w", seq, caseID, err)
		}
	}
	return copies, nil
}

// appendCopy appends a redacted copy and waits for the stream's ack.
func (s *Store) appendCopy(ctx context.Context, ev takedown.Event) error {
	ev.Seq = 0
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode redacted event: %w", err)
	}
	msg := nats.NewMsg(EventsPrefix + ev.CaseID)
	msg.Data = b
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("redacted-%s-%d", ev.CaseID, ev.Redacted.Seq))
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout())
	defer cancel()
	if _, err := s.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("append redacted event to case %s: %w", ev.CaseID, err)
	}
	return nil
}

// ReleaseURL removes the URL index's entry for urlKey when it still
// points at caseID (a closed case being anonymised, or a claim intake made
// for a report that turned out to be a duplicate): the entry's key is
// a digest of the URL that anyone with a guess could recompute, and a
// KV delete would leave it behind in its marker. So the entry is first
// rewritten by compare-and-set (which proves it still ours, at a
// revision we know), then every message on its subject up to that
// revision is purged from the bucket's stream: a claim intake makes
// after it is newer and stays. A new report of the URL then opens a new
// case, as it would have anyway.
func (s *Store) ReleaseURL(ctx context.Context, urlKey, caseID string) error {
	e, err := s.urls.Get(ctx, urlKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get url %s: %w", urlKey, err)
	}
	if string(e.Value()) != caseID {
		return nil
	}
	rev, err := s.urls.Update(ctx, urlKey, e.Value(), e.Revision())
	if IsConflict(err) {
		return nil // taken over meanwhile: no longer this case's entry
	}
	if err != nil {
		return fmt.Errorf("release url %s: %w", urlKey, err)
	}
	stream, err := s.js.Stream(ctx, "KV_"+URLIndexBucket)
	if err != nil {
		return fmt.Errorf("bind %s: %w", URLIndexBucket, err)
	}
	subject := "$KV." + URLIndexBucket + "." + urlKey
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(rev+1)); err != nil {
		return fmt.Errorf("release url %s: %w", urlKey, err)
	}
	return nil
}
