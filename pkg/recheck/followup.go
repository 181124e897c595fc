package recheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// FollowUpBucket is the KV bucket that holds the follow-up work a check
// decided (reminders, escalations, reappearance notices, re-enrichment)
// from just before the check is recorded until the work is enqueued.
//
// Why an outbox and not "enqueue first, then record": a decision rests on
// a probe, and two probes of the same case state may disagree (the hoster
// flaps, or one replica loses the compare-and-set to another whose probe
// saw something else; a crash before the record followed by a re-probe is
// the same race with oneself). Work enqueued before the record could then
// be work that no recorded check decided: a reminder the case does not
// count, which the next online check decides again with the same id, long
// after the work stream's 2 h dedup window, and sends twice. Here nothing
// leaves before the decision is recorded, and the entry survives a crash
// between the record and the enqueue. The entry lives in a bucket of its
// own because takedown.CheckState, the only part of the case this stage
// writes, has no room for it.
//
// Keys are <case id>.<check number>.<decision time in ns>. The decision
// time is what the record keeps as CheckState.LastCheckedAt, so the entry
// of a recorded check is found by one direct get from the case alone.
const FollowUpBucket = "takedown_recheck_followups"

// followUpMarkerTTL is how long the marker of a purged entry stays. No
// one reads markers; without a TTL one would stay per check that ever had
// follow-up work.
const followUpMarkerTTL = time.Minute

// errDecisionClash is a check whose decision time and number collide with
// another replica's different decision: it records nothing and retries
// with a later decision time.
var errDecisionClash = errors.New("another decision holds this check")

// work is one unit of work a check asks another stage for.
type work struct {
	Stage string          `json:"stage"`
	Dedup string          `json:"dedup"`
	Data  json.RawMessage `json:"data"`
}

// pending is an outbox entry: the follow-up work of check number Check of
// a case, and the check state that check records, so that recovery can
// tell the recorded decision from one that lost.
type pending struct {
	CaseID string              `json:"case_id"`
	Check  int                 `json:"check"`
	Expect takedown.CheckState `json:"expect"`
	Work   []work              `json:"work"`
}

func (p pending) key() string { return followUpKey(p.CaseID, p.Check, p.Expect.LastCheckedAt) }

func followUpKey(caseID string, check int, at time.Time) string {
	return caseID + "." + strconv.Itoa(check) + "." + strconv.FormatInt(at.UnixNano(), 10)
}

// parseFollowUpKey returns the case id and check number of a key.
func parseFollowUpKey(key string) (string, int, bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 || !store.ValidCaseID(parts[0]) {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return parts[0], n, err == nil
}

// pendingOf collects the follow-up work of a decision made on c.
func pendingOf(c *takedown.Case, out outcome) (pending, error) {
	p := pending{CaseID: c.ID, Check: c.CheckCount()}
	if c.Checks != nil {
		p.Expect = *c.Checks
	}
	for _, s := range out.notify {
		b, err := encode(s.req)
		if err != nil {
			return p, err
		}
		p.Work = append(p.Work, work{Stage: store.StageNotify, Dedup: s.dedup, Data: b})
	}
	if out.reenrich != nil {
		b, err := encode(out.reenrich)
		if err != nil {
			return p, err
		}
		p.Work = append(p.Work, work{Stage: store.StageEnrich, Dedup: dedupID(c.ID, "reenrich", p.Check), Data: b})
	}
	return p, nil
}

// sameDecision reports whether two entries ask for the same work after
// the same recorded check state (NextCheckAt aside: Begin may move it
// after the record).
func sameDecision(a, b pending) bool {
	a.Expect.NextCheckAt, b.Expect.NextCheckAt = time.Time{}, time.Time{}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// putFollowUps writes the entry before its check is recorded. The same
// entry twice (a rerun of the same decision) is fine; a different one under
// the same key is a clash.
func (r *Recheck) putFollowUps(ctx context.Context, p pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode follow-ups of case %s: %w", p.CaseID, err)
	}
	return store.RetryConflicts(ctx, "save follow-ups of case "+p.CaseID, func() error {
		_, err := r.followKV.Create(ctx, p.key(), b)
		if !errors.Is(err, jetstream.ErrKeyExists) {
			if err != nil {
				return fmt.Errorf("save follow-ups of case %s: %w", p.CaseID, err)
			}
			return nil
		}
		held, ok, err := r.getFollowUps(ctx, p.key())
		switch {
		case err != nil:
			return err
		case ok && !sameDecision(held, p):
			return fmt.Errorf("check case %s: %w", p.CaseID, errDecisionClash)
		case ok:
			return nil
		}
		// Purged between the create and the get: write it again.
		return store.ErrConflict
	})
}

func (r *Recheck) getFollowUps(ctx context.Context, key string) (pending, bool, error) {
	e, err := r.followKV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return pending{}, false, nil
	}
	if err != nil {
		return pending{}, false, fmt.Errorf("get follow-ups %s: %w", key, err)
	}
	var p pending
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		// Not ours to act on; the sweeper drops it.
		return pending{}, false, nil
	}
	return p, true, nil
}

// sendFollowUps enqueues the entry's work, then drops the entry. A crash
// in between enqueues it again from the entry: the dedup ids make that
// one unit of work each while the work stream remembers them (2 h), and
// the sweeper, at start and every sweep interval, repairs well inside that.
func (r *Recheck) sendFollowUps(ctx context.Context, p pending) error {
	for i, w := range p.Work {
		if err := r.store.Enqueue(ctx, w.Stage, p.CaseID, w.Dedup, w.Data); err != nil {
			return err
		}
		if err := r.fault("enqueued-" + strconv.Itoa(i+1)); err != nil {
			return err
		}
	}
	return r.dropFollowUps(ctx, p.key())
}

func (r *Recheck) dropFollowUps(ctx context.Context, key string) error {
	if err := r.followKV.Purge(ctx, key, jetstream.PurgeTTL(followUpMarkerTTL)); err != nil {
		return fmt.Errorf("drop follow-ups %s: %w", key, err)
	}
	return nil
}

// recoverFollowUps sends the follow-up work of the case's last recorded
// check if its entry is still there (the process died between the record
// and the enqueue). It must run before the next check is recorded: after
// that, the recorded state no longer names the entry. Only an online
// result decides follow-ups, so other checks cost no lookup.
func (r *Recheck) recoverFollowUps(ctx context.Context, c takedown.Case) error {
	cs := c.Checks
	if cs == nil || cs.Checks == 0 || cs.LastVerdict != string(probe.Online) {
		return nil
	}
	key := followUpKey(c.ID, cs.Checks, cs.LastCheckedAt)
	p, ok, err := r.getFollowUps(ctx, key)
	if err != nil || !ok {
		return err
	}
	if !recorded(p, cs) {
		// Another decision with the same time and number lost.
		return r.dropFollowUps(ctx, key)
	}
	r.log.Info("follow-ups recovered", "case_id", c.ID, "check", p.Check, "work", len(p.Work))
	return r.sendFollowUps(ctx, p)
}

// recorded reports whether p is the decision the case recorded.
func recorded(p pending, cs *takedown.CheckState) bool {
	got := pending{CaseID: p.CaseID, Check: p.Check, Expect: *cs, Work: p.Work}
	return cs.Checks == p.Check && sameDecision(p, got)
}

// sweepFollowUps goes through every entry: it sends the work of recorded
// checks whose sender died, and drops entries of decisions that were never
// recorded (lost to another replica, or to a crash before the record and a
// re-probe that decided otherwise). An entry for a check not yet recorded
// may belong to a check in flight, so it stays until the case moves past
// it or closes. It returns how many entries it sent.
func (r *Recheck) sweepFollowUps(ctx context.Context) (int, error) {
	lister, err := r.followKV.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list follow-ups: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	sent := 0
	var errs []error
	for _, key := range keys {
		ok, err := r.sweepFollowUp(ctx, key)
		if ok {
			sent++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return sent, errors.Join(errs...)
}

func (r *Recheck) sweepFollowUp(ctx context.Context, key string) (bool, error) {
	caseID, check, ok := parseFollowUpKey(key)
	if !ok {
		return false, r.dropFollowUps(ctx, key)
	}
	p, ok, err := r.getFollowUps(ctx, key)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, r.dropFollowUps(ctx, key)
	}
	c, _, err := r.store.GetCase(ctx, caseID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, r.dropFollowUps(ctx, key)
	case err != nil:
		return false, err
	}
	done := c.CheckCount()
	switch {
	case check > done && c.State != takedown.StateClosed:
		return false, nil // in flight, or dead before its record
	case check == done && key == followUpKey(caseID, done, c.Checks.LastCheckedAt) && recorded(p, c.Checks):
		r.log.Info("follow-ups recovered", "case_id", caseID, "check", check, "work", len(p.Work))
		return true, r.sendFollowUps(ctx, p)
	}
	// Never recorded, or sent before the next check was recorded (every
	// check recovers its predecessor's entry first).
	return false, r.dropFollowUps(ctx, key)
}
