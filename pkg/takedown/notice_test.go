package takedown

import (
	"slices"
	"testing"
)

func TestNoticeCaseIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    Notice
		want []string
	}{
		{"open: its cases", Notice{Cases: []string{"a", "b"}}, []string{"a", "b"}},
		{"sealing: less the dropped", Notice{Cases: []string{"a", "b", "c"}, Dropped: []string{"b"}}, []string{"a", "c"}},
		{"sealed: its items", Notice{Cases: []string{"a", "b", "c"}, Items: []NoticeItem{{CaseID: "c"}, {CaseID: "a"}, {CaseID: "c"}}}, []string{"c", "a"}},
		{"nothing", Notice{}, nil},
	}
	for _, tt := range tests {
		if got := tt.n.CaseIDs(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: CaseIDs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNoticeStillRoutedTo(t *testing.T) {
	t.Parallel()
	hoster := &Routing{Kind: RouteHoster, Contacts: []Contact{{Email: "abuse@a.nl"}, {Email: "noc@a.nl"}}}
	failedOver := &Routing{Kind: RouteHoster, Contacts: hoster.Contacts, Failing: []string{"ABUSE@a.nl"}}
	partner := &Routing{Kind: RoutePartner, Country: "DE"}
	tests := []struct {
		name    string
		n       Notice
		routing *Routing
		want    bool
	}{
		{"first contact", Notice{To: "Abuse@A.nl"}, hoster, true},
		{"second contact while the first works", Notice{To: "noc@a.nl"}, hoster, false},
		{"first contact failing", Notice{To: "abuse@a.nl"}, failedOver, false},
		{"next contact after a failure", Notice{To: "noc@a.nl"}, failedOver, true},
		{"partner of the country", Notice{Level: NoticeLevelPartner, Partner: "de"}, partner, true},
		{"partner of another country", Notice{Level: NoticeLevelPartner, Partner: "FR"}, partner, false},
		{"partner, case now to a hoster", Notice{Level: NoticeLevelPartner, Partner: "DE"}, hoster, false},
		{"never routed", Notice{To: "abuse@a.nl"}, nil, false},
	}
	for _, tt := range tests {
		if got := tt.n.StillRoutedTo(Case{Routing: tt.routing}); got != tt.want {
			t.Errorf("%s: StillRoutedTo = %v, want %v", tt.name, got, tt.want)
		}
	}
}
