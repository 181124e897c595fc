package takedown

import (
	"testing"
	"time"
)

func TestWatched(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	sent := []NoticeRef{{Kind: NoticeKindFirst, Outcome: "sent"}}
	bounced := []NoticeRef{{Kind: NoticeKindFirst, Outcome: "failed"}}
	tests := []struct {
		name    string
		c       Case
		watched bool
	}{
		{"received", Case{State: StateReceived}, false},
		{"routed, first notice queued", Case{State: StateRouted}, false},
		{"noticed", Case{State: StateNoticed}, true},
		{"forwarded", Case{State: StateForwarded}, true},
		{"removed", Case{State: StateRemoved}, true},
		{"review before any notice", Case{State: StateReview}, false},
		{"review after a delivered notice", Case{State: StateReview, Notices: sent}, true},
		{"review after a bounce, checks begun", Case{State: StateReview, Notices: bounced, Checks: &CheckState{WatchedSince: at}}, true},
		{"review after a bounce, checks never begun", Case{State: StateReview, Notices: bounced}, false},
		{"routed again after checks", Case{State: StateRouted, Checks: &CheckState{Checks: 3}}, true},
		{"enriched again after a removal", Case{State: StateEnriched, Checks: &CheckState{RemovedAt: at}}, true},
		{"unresolvable with a retry planned", Case{State: StateUnresolvable, Checks: &CheckState{NextCheckAt: at}}, false},
		{"closed", Case{State: StateClosed, Notices: sent, Checks: &CheckState{WatchedSince: at}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.c.Watched(); got != tt.watched {
				t.Errorf("Watched() = %v, want %v", got, tt.watched)
			}
		})
	}
}

// TestOpenStatesCanBeRemoved: every open state may move to removed, so a
// watched case's removal is confirmed wherever it stands.
func TestOpenStatesCanBeRemoved(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		if s.Open() && !s.CanMoveTo(StateRemoved) {
			t.Errorf("an open %s case cannot move to removed", s)
		}
	}
}
