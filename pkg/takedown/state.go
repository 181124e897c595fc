package takedown

import (
	"fmt"
	"slices"
)

// State is where a case stands. The states and the moves between them are
// written down once, here; the store refuses any other move.
type State string

// The states of a case.
const (
	// StateReceived: a confirmed report created the case; enrichment is due.
	StateReceived State = "received"
	// StateEnriched: hoster, network, contacts and country are known; routing is due.
	StateEnriched State = "enriched"
	// StateUnresolvable: the host does not resolve (NXDOMAIN); enrichment is retried on a schedule.
	StateUnresolvable State = "unresolvable"
	// StateNotActionable: no notice can reach anyone (Tor .onion, reserved names or addresses).
	StateNotActionable State = "not_actionable"
	// StateReview: routing found nobody to tell; a person must decide.
	StateReview State = "review"
	// StateRouted: a notice or forward is queued (batching window).
	StateRouted State = "routed"
	// StateNoticed: a notice reached the hoster's (or CDN's) abuse contact; re-checks run.
	StateNoticed State = "noticed"
	// StateForwarded: the case went to the partner hotline of the hosting country; re-checks run.
	StateForwarded State = "forwarded"
	// StateRemoved: removal was confirmed; "stays gone" checks still run.
	StateRemoved State = "removed"
	// StateClosed: nothing more to do. A new report of the URL opens a new case.
	StateClosed State = "closed"
)

// States lists every state in the order of the usual flow.
var States = []State{
	StateReceived, StateEnriched, StateUnresolvable, StateNotActionable, StateReview,
	StateRouted, StateNoticed, StateForwarded, StateRemoved, StateClosed,
}

// transitions is the one table of allowed moves. A move to the same state
// is always allowed (it records a new fact without changing the state).
// Every open state may move to removed: a watched case (Case.Watched) can
// be in any of them, and its removal is confirmed wherever it stands.
var transitions = map[State][]State{
	StateReceived:      {StateEnriched, StateUnresolvable, StateNotActionable, StateReview, StateRemoved, StateClosed},
	StateUnresolvable:  {StateReceived, StateEnriched, StateNotActionable, StateReview, StateRemoved, StateClosed},
	StateNotActionable: {StateReceived, StateReview, StateRemoved, StateClosed},
	StateEnriched:      {StateReceived, StateRouted, StateNoticed, StateForwarded, StateReview, StateNotActionable, StateRemoved, StateClosed},
	StateReview:        {StateReceived, StateEnriched, StateRouted, StateNoticed, StateForwarded, StateNotActionable, StateRemoved, StateClosed},
	StateRouted:        {StateReceived, StateEnriched, StateNoticed, StateForwarded, StateReview, StateRemoved, StateClosed},
	StateNoticed:       {StateReceived, StateEnriched, StateRouted, StateForwarded, StateReview, StateRemoved, StateClosed},
	StateForwarded:     {StateReceived, StateEnriched, StateRouted, StateNoticed, StateReview, StateRemoved, StateClosed},
	StateRemoved:       {StateReceived, StateEnriched, StateRouted, StateNoticed, StateForwarded, StateClosed},
	StateClosed:        {},
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Open reports whether a case in this state still needs work, so that a
// new report of the same URL joins it.
func (s State) Open() bool { return s != StateClosed }

// CanMoveTo reports whether a case may move from s to next.
func (s State) CanMoveTo(next State) bool {
	return s == next || slices.Contains(transitions[s], next)
}

// Transitions returns the states reachable from s, for documentation.
func (s State) Transitions() []State { return slices.Clone(transitions[s]) }

// TransitionError is returned when a move is not in the table.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("case cannot move from %s to %s", e.From, e.To)
}
