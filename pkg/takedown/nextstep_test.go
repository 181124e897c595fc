package takedown

import (
	"slices"
	"testing"
	"time"
)

func TestNextStep(t *testing.T) {
	t.Parallel()
	watching := &CheckState{WatchedSince: time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)}
	work := func(stages ...string) Pending { return Pending{Work: stages} }
	tests := []struct {
		name string
		c    Case
		p    Pending
		want []Missing
	}{
		{"received with its enrich work", Case{State: StateReceived}, work(WorkEnrich), nil},
		{"received without", Case{State: StateReceived}, work(WorkRoute), []Missing{MissingEnrich}},
		{"enriched with its route work", Case{State: StateEnriched}, work(WorkRoute), nil},
		{"enriched being enriched again", Case{State: StateEnriched}, work(WorkEnrich), nil},
		{"enriched without", Case{State: StateEnriched}, Pending{}, []Missing{MissingRoute}},
		{"routed with its notice on its way", Case{State: StateRouted}, Pending{Notice: true}, nil},
		{"routed without a notice", Case{State: StateRouted}, Pending{}, []Missing{MissingNotice}},
		{"routed again after a notice, no check", Case{State: StateRouted, Checks: watching}, Pending{Notice: true}, []Missing{MissingCheck}},
		{"unresolvable in its quick retries", Case{State: StateUnresolvable}, work(WorkEnrich), nil},
		{"unresolvable with its slow retry", Case{State: StateUnresolvable}, Pending{Check: true}, nil},
		{"unresolvable with nothing", Case{State: StateUnresolvable}, Pending{}, []Missing{MissingRetry}},
		{"noticed with its check", Case{State: StateNoticed}, Pending{Check: true}, nil},
		{"noticed with check work", Case{State: StateNoticed}, work(WorkCheck), nil},
		{"noticed without a check", Case{State: StateNoticed}, work(WorkNotify), []Missing{MissingCheck}},
		{"forwarded without a check", Case{State: StateForwarded}, Pending{}, []Missing{MissingCheck}},
		{"removed without a check", Case{State: StateRemoved}, Pending{}, []Missing{MissingCheck}},
		{"review with a reason", Case{State: StateReview, StateReason: "no working abuse contact"}, Pending{}, nil},
		{"review without a reason", Case{State: StateReview}, Pending{}, []Missing{MissingReason}},
		{"review after a notice, with its check", Case{State: StateReview, StateReason: "every contact failed", Checks: watching}, Pending{Check: true}, nil},
		{"review after a notice, no check", Case{State: StateReview, StateReason: "every contact failed", Checks: watching}, Pending{}, []Missing{MissingCheck}},
		{"not actionable with a reason", Case{State: StateNotActionable, StateReason: ".onion"}, Pending{}, nil},
		{"closed needs nothing", Case{State: StateClosed}, Pending{}, nil},
		{"noticed, escalation chain on its way", Case{State: StateNoticed, Checks: watching, Enrichment: &Enrichment{EscalationPending: true}}, Pending{Check: true, Work: []string{WorkEscalate}}, nil},
		{"noticed, escalation chain without its work", Case{State: StateNoticed, Checks: watching, Enrichment: &Enrichment{EscalationPending: true}}, Pending{Check: true}, []Missing{MissingEscalation}},
		{"enriched, route and escalate work pending", Case{State: StateEnriched, Enrichment: &Enrichment{EscalationPending: true}}, work(WorkRoute, WorkEscalate), nil},
		{"enriched, neither", Case{State: StateEnriched, Enrichment: &Enrichment{EscalationPending: true}}, Pending{}, []Missing{MissingRoute, MissingEscalation}},
		{"escalation chain complete", Case{State: StateNoticed, Checks: watching, Enrichment: &Enrichment{}}, Pending{Check: true}, nil},
		{"closed with the chain pending needs nothing", Case{State: StateClosed, Enrichment: &Enrichment{EscalationPending: true}}, Pending{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NextStep(tt.c, tt.p); !slices.Equal(got, tt.want) {
				t.Errorf("NextStep = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEveryOpenStateHasARule: no open state is left out of NextStep — with
// nothing pending and no reason, each lacks something.
func TestEveryOpenStateHasARule(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		if s.Open() && len(NextStep(Case{State: s}, Pending{})) == 0 {
			t.Errorf("an open %s case with nothing pending has its next step, says NextStep", s)
		}
	}
}
