package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// A person can pause a case's notices (the pause action: an investigation
// asks that the hoster not be told yet, say). The case carries the pause
// (takedown.Case.Pause) and this stage honours it: the routing of a paused
// case, its follow-ups and the flush of a follow-up notice wait pending on
// their consumers, and a paused case is left out of a first notice being
// sealed (the pause action routes such a case again, and that routing
// waits). What waits goes on when the pause ends or is lifted. Re-checks
// are not paused, so a removal is still confirmed.

// holdStep bounds one wait of work a pause holds (unless
// Options.HoldStep says otherwise): lifting a pause takes effect within
// it, and the wait costs a case read per step.
const holdStep = time.Minute

// errPaused marks work held by a pause.
var errPaused = errors.New("notices paused")

// paused returns an error matching errPaused while the case's notices are
// paused.
func (s *Stage) paused(c takedown.Case) error {
	if !c.NoticesPaused(s.now()) {
		return nil
	}
	return fmt.Errorf("case %s until %s: %w", c.ID, c.Pause.Until.UTC().Format(time.RFC3339), errPaused)
}

// hold settles a message whose work a pause holds, and reports whether
// err was that; the message comes back when the pause ends, or a step
// later to see whether it was lifted.
func (s *Stage) hold(ctx context.Context, msg jetstream.Msg, caseID string, err error) bool {
	if !errors.Is(err, errPaused) {
		return false
	}
	step := holdStep
	if s.opts.HoldStep > 0 {
		step = s.opts.HoldStep
	}
	wait := step
	if c, _, err := s.store.GetCase(ctx, caseID); err == nil && c.Pause != nil {
		wait = min(max(c.Pause.Until.Sub(s.now()), 10*time.Millisecond), step)
	}
	s.log.Debug("work held: notices paused", "case_id", caseID, "subject", msg.Subject())
	_ = msg.NakWithDelay(wait)
	return true
}

// followUpPaused returns errPaused for a follow-up notice (one case, not
// a first notice or forward) whose case's notices are paused.
func (s *Stage) followUpPaused(ctx context.Context, rec takedown.Notice) (string, error) {
	if rec.Kind == string(notice.KindFirst) || rec.Kind == string(notice.KindForward) || len(rec.Cases) != 1 {
		return "", nil
	}
	c, _, err := s.store.GetCase(ctx, rec.Cases[0])
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return c.ID, s.paused(c)
}
