package recheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/store"
)

// Names of the schedule stream and its subjects. They are part of the
// operator's interface (the nats CLI sees them), so they do not change.
const (
	// ScheduleStream holds one pending schedule per case and the checks
	// they fire. It is a WorkQueue stream: a fired check is gone once acked,
	// and schedules stay because no consumer reads their subjects. (An
	// Interest stream would drop schedules nobody is subscribed to.)
	ScheduleStream = "TAKEDOWN_CHECKS"
	// SchedulePrefix + case id holds the case's one pending schedule; a new
	// schedule on the subject replaces the old one (the server rolls the
	// subject up).
	SchedulePrefix = "takedown.check.sched."
	// DuePrefix + case id is where the server puts a schedule that fired.
	DuePrefix = "takedown.check.due."
)

// Header names of JetStream message schedules (nats-server 2.12+). The
// jetstream package's WithScheduleAt truncates to whole seconds, so the
// header is written here with nanoseconds.
const (
	headerSchedule       = "Nats-Schedule"
	headerScheduleTarget = "Nats-Schedule-Target"
)

// Due is the payload of a schedule and of the check it fires: which case
// and for which planned time, so that a check fired by a schedule that has
// since been replaced is recognised as stale.
type Due struct {
	CaseID string    `json:"case_id"`
	At     time.Time `json:"at"`
}

// Scheduler keeps the pending check of each case as a JetStream message
// schedule. It is safe for concurrent use.
type Scheduler struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// NewScheduler creates or updates the schedule stream.
func NewScheduler(ctx context.Context, st *store.Store) (*Scheduler, error) {
	err := st.EnsureStream(ctx, jetstream.StreamConfig{
		Name:              ScheduleStream,
		Description:       "takedownd re-checks: one pending schedule per case and the checks they fire",
		Subjects:          []string{SchedulePrefix + "*", DuePrefix + "*"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.WorkQueuePolicy,
		AllowMsgSchedules: true,
		AllowRollup:       true,
		Duplicates:        2 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	js := st.JetStream()
	stream, err := js.Stream(ctx, ScheduleStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", ScheduleStream, err)
	}
	return &Scheduler{js: js, stream: stream}, nil
}

// scheduleMsg builds the schedule message of a case for time at. The time
// comes from the caller's (injectable) clock; the server fires it by its
// own wall clock, at once if at has passed.
func scheduleMsg(caseID string, at time.Time) *nats.Msg {
	msg := nats.NewMsg(SchedulePrefix + caseID)
	msg.Header.Set(headerSchedule, "@at "+at.UTC().Format(time.RFC3339Nano))
	msg.Header.Set(headerScheduleTarget, DuePrefix+caseID)
	// Our own structs: marshalling cannot fail.
	msg.Data, _ = json.Marshal(Due{CaseID: caseID, At: at.UTC()})
	return msg
}

// Schedule sets the case's next check to at, replacing any pending one.
func (s *Scheduler) Schedule(ctx context.Context, caseID string, at time.Time) error {
	if _, err := s.js.PublishMsg(ctx, scheduleMsg(caseID, at)); err != nil {
		return fmt.Errorf("schedule check of case %s: %w", caseID, err)
	}
	return nil
}

// publishWindow bounds the asynchronous publishes in flight, well under
// the connection's limit of outstanding acks.
const publishWindow = 1000

// ScheduleMany schedules many cases with asynchronous publishes, for the
// bulk loads.
func (s *Scheduler) ScheduleMany(ctx context.Context, due []Due) error {
	futures := make([]jetstream.PubAckFuture, 0, min(len(due), publishWindow))
	for len(due) > 0 {
		chunk := due[:min(len(due), publishWindow)]
		due = due[len(chunk):]
		futures = futures[:0]
		for _, d := range chunk {
			f, err := s.js.PublishMsgAsync(scheduleMsg(d.CaseID, d.At))
			if err != nil {
				return fmt.Errorf("schedule check of case %s: %w", d.CaseID, err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("schedule checks: %w", err)
			case <-ctx.Done():
				return fmt.Errorf("schedule checks: %w", ctx.Err())
			}
		}
	}
	return nil
}

// Cancel drops the case's pending schedule, and a fired check not yet
// taken, so a closed case is never probed again.
func (s *Scheduler) Cancel(ctx context.Context, caseID string) error {
	for _, subj := range []string{SchedulePrefix + caseID, DuePrefix + caseID} {
		if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return fmt.Errorf("cancel checks of case %s: %w", caseID, err)
		}
	}
	return nil
}

// Pending returns the time of the case's pending schedule, if any.
func (s *Scheduler) Pending(ctx context.Context, caseID string) (time.Time, bool, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, SchedulePrefix+caseID)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("get schedule of case %s: %w", caseID, err)
	}
	var d Due
	if err := json.Unmarshal(raw.Data, &d); err != nil {
		return time.Time{}, false, fmt.Errorf("decode schedule of case %s: %w", caseID, err)
	}
	return d.At, true, nil
}

// Planned reports whether the case has a check pending: its schedule, or
// a check it fired that is not done yet. One request, answered by the
// stream leader from its subject index.
func (s *Scheduler) Planned(ctx context.Context, caseID string) (bool, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter("takedown.check.*."+caseID))
	if err != nil {
		return false, fmt.Errorf("look up checks of case %s: %w", caseID, err)
	}
	for subj, n := range info.State.Subjects {
		if n > 0 && (subj == SchedulePrefix+caseID || subj == DuePrefix+caseID) {
			return true, nil
		}
	}
	return false, nil
}
