// Package inbound is the stage that listens: hosters' replies to notices
// and the bounces of notices come back to takedownd by SMTP (a listener
// the hotline's MX forwards to) or a drop directory, and each message is
// matched to its notice by reference and recorded on the notice's cases.
// A reply is a "replied" event and an immediate re-check (the hoster says
// it acted: see whether it did); a bounce has the case's next contact told
// and never stops its checks, and an address gone for good is marked
// failing for every case (takedown.DeliveryRules); mail that matches
// nothing is kept in the dead-letter stream for a person, never dropped.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
)

// Kind says what a message turned out to be.
type Kind string

// Kinds of ingested messages.
const (
	KindReply     Kind = "reply"      // a person answered a notice
	KindAutoReply Kind = "auto_reply" // an out-of-office or ticket robot answered
	KindBounce    Kind = "bounce"     // the notice could not be delivered, for good
	KindDelay     Kind = "delay"      // delivery of the notice is delayed (4.x.x)
	KindReport    Kind = "report"     // a delivery report without failure (relayed, delivered)
	KindUnmatched Kind = "unmatched"  // no notice found: kept as a dead letter
	KindDuplicate Kind = "duplicate"  // this Message-ID was ingested before
)

// Result is what Ingest did with a message.
type Result struct {
	Kind      Kind
	Ref       string   // the notice matched, if any
	MatchedBy string   // where the reference was found
	Cases     []string // cases the message was recorded on
	Rerouted  []string // cases whose next contact is told after a bounce
	Reason    string   // why a message went unmatched
	MessageID string
	// Suspicious says why the message looks forged (a VERP address whose
	// tag does not verify), "" if it does not.
	Suspicious string
}

// Options are what the ingester needs from the daemon.
type Options struct {
	Store   *store.Store
	Notices NoticeSource
	// RequestCheck asks for an immediate re-check of a case after a
	// person's reply (the app wires it to recheck.RequestCheck). It should
	// ignore cases that are not being checked. Nil: no checks.
	RequestCheck func(ctx context.Context, caseID string) error
	// Domains are our reply domains: only plus parts of addresses at them
	// count as references.
	Domains []string
	// VERP checks the envelope-sender addresses notify sends from
	// (abuse+bounce-REF-tag@…): a bounce to one whose tag verifies is
	// matched by it before anything else; one whose tag does not is
	// matched by the other rules and recorded as suspicious. Nil: no VERP.
	VERP *verp.Signer
	// Health is the contact-health record of every replica: an address a
	// verified bounce says is gone for good is marked failing there, and a
	// reply from an address drops its mark. Nil: cases only.
	Health ContactHealth
	// DedupWindow is how long a Message-ID is remembered.
	DedupWindow time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// ContactHealth marks and clears addresses for every case
// (*contacthealth.Book is one).
type ContactHealth interface {
	Mark(ctx context.Context, addr string, h takedown.ContactHealth) error
	Clear(ctx context.Context, addr string) (bool, error)
}

// Ingester matches inbound mail to notices and records it on cases. It
// is safe for concurrent use.
type Ingester struct {
	opts   Options
	store  *store.Store
	js     jetstream.JetStream
	seenKV jetstream.KeyValue
	now    func() time.Time
	log    *slog.Logger
}

// New creates the bucket that remembers ingested messages.
func New(ctx context.Context, opts Options) (*Ingester, error) {
	if opts.Store == nil || opts.Notices == nil {
		return nil, errors.New("new inbound: store and notices are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = 30 * 24 * time.Hour
	}
	kv, err := opts.Store.EnsureKV(ctx, jetstream.KeyValueConfig{
		Bucket: SeenBucket, Description: "inbound mail already recorded, by Message-ID",
		History: 1, TTL: opts.DedupWindow, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return &Ingester{opts: opts, store: opts.Store, js: opts.Store.JetStream(), seenKV: kv, now: opts.Now, log: opts.Log}, nil
}

// Ingest reads one message and records it. It returns an error only when
// the message could not be kept (NATS unreachable): the caller should then
// have it delivered again (SMTP 451, or leave the file for the next scan).
// Anything it cannot match is dead-lettered with its reason and counts as
// handled.
func (in *Ingester) Ingest(ctx context.Context, raw []byte) (Result, error) {
	p, err := parse(raw)
	if err != nil {
		key := messageKey(parsed{}, raw)
		res := Result{Kind: KindUnmatched, Reason: "unreadable message: " + err.Error()}
		return res, in.reject(ctx, key, raw, res, "unreadable message")
	}
	key := messageKey(p, raw)
	res := Result{MessageID: p.MessageID}
	dup, err := in.seen(ctx, key)
	if err != nil {
		return res, err
	}
	if dup {
		res.Kind = KindDuplicate
		in.log.Info("inbound message already recorded", "message", key)
		return res, nil
	}
	n, by, err := in.match(ctx, p)
	if err != nil {
		return res, err
	}
	if forged := forgedVERP(p, in.opts.VERP); forged != "" {
		res.Suspicious = "VERP address " + forged + " carries a tag this daemon did not make"
		in.log.Warn("inbound message to a VERP address with a forged tag", "message", key, "notice", n.Ref)
	}
	if n.Ref == "" {
		res.Kind, res.Reason = KindUnmatched, by
		if res.Suspicious != "" {
			res.Reason += "; " + res.Suspicious
		}
		return res, in.reject(ctx, key, raw, res, by)
	}
	res.Ref, res.MatchedBy = n.Ref, by
	p.Suspicious = res.Suspicious
	if p.Bounce != nil {
		err = in.bounce(ctx, key, p, n, &res)
	} else {
		err = in.reply(ctx, key, p, n, &res)
	}
	if err != nil {
		return res, err
	}
	if err := in.markSeen(ctx, key, res); err != nil {
		return res, err
	}
	in.log.Info("inbound message recorded", "kind", res.Kind, "notice", res.Ref, "matched_by", by, "cases", len(res.Cases), "rerouted", len(res.Rerouted))
	return res, nil
}

// match finds the first candidate reference that names a known notice.
// When none does, the returned string says why, for the dead letter.
func (in *Ingester) match(ctx context.Context, p parsed) (takedown.Notice, string, error) {
	cands := candidates(p, in.opts.Domains, in.opts.VERP)
	if len(cands) == 0 {
		return takedown.Notice{}, "no notice reference in recipient, In-Reply-To, References, subject or X-Takedown-Ref", nil
	}
	var unknown []string
	for _, c := range cands {
		n, err := in.opts.Notices.Notice(ctx, c.Ref)
		if errors.Is(err, ErrUnknownNotice) {
			unknown = append(unknown, c.Ref)
			continue
		}
		if err != nil {
			return takedown.Notice{}, "", err
		}
		return n, c.By, nil
	}
	return takedown.Notice{}, "no notice with reference " + strings.Join(unknown, ", "), nil
}

// reject dead-letters a message. logReason is what the log may say: a
// parse error can quote the message, which stays out of the log.
func (in *Ingester) reject(ctx context.Context, key string, raw []byte, res Result, logReason string) error {
	if err := in.deadLetter(ctx, key, raw, res.Reason); err != nil {
		return err
	}
	in.log.Warn("inbound message matches no notice: kept as a dead letter", "message", key, "reason", logReason)
	return nil
}

// eventID derives an event id from the message and the case, so the same
// message ingested twice appends one event per case.
func eventID(what, key, caseID string) string {
	return fmt.Sprintf("%s-%s-%s", what, key, caseID)
}
