package scope

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

var at = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// movedCase was noticed to hoster A (AS64500), then moved to hoster B
// (AS64501) and noticed there too; its enrichment names B, an upstream and
// a registrar.
func movedCase() takedown.Case {
	return takedown.Case{
		ID: "0000000000000A01", URL: "http://images.example/a.jpg", OriginalURL: "http://images.example/a.jpg", State: takedown.StateNoticed,
		StateReason: "first notice accepted for abuse@hoster-b.nl",
		Reports:     []takedown.ReportRef{{ReportID: "r-1", Analyst: "analyst-7", Source: "public", Classification: "A1"}},
		Enrichment: &takedown.Enrichment{
			Addresses: []takedown.AddressInfo{{IP: "192.0.2.20", ASN: 64501}},
			Contacts: []takedown.Contact{
				{Email: "abuse@hoster-b.nl", Role: "hoster"},
				{Email: "noc@upstream.example", Role: "upstream"},
			},
			Registrar: &takedown.Registrar{Name: "Registrar X", Abuse: &takedown.Contact{Email: "abuse@registrar.example"}},
			Problems:  []string{"rdap 192.0.2.20: timeout asking rdap.db.ripe.net"},
		},
		Routing: &takedown.Routing{Kind: takedown.RouteHoster, Reason: "hosted in NL", Contacts: []takedown.Contact{{Email: "abuse@hoster-b.nl"}, {Email: "abuse@hoster-a.nl"}}, Failing: []string{"abuse@hoster-a.nl"}},
		Notices: []takedown.NoticeRef{
			{Ref: "TD-A", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@hoster-a.nl", Outcome: "sent"},
			{Ref: "TD-B", Kind: "first", Level: "hoster", Channel: "email", To: "abuse@hoster-b.nl", Outcome: "sent"},
			{Ref: "TD-U", Kind: "escalation", Level: "upstream", Channel: "email", To: "noc@upstream.example", Outcome: "sent"},
		},
		Pause:         &takedown.Pause{Reason: "police investigation 2026-77", Until: at.Add(time.Hour), By: "alice"},
		AddedContacts: []takedown.Contact{{Email: "desk@hoster-b.nl"}, {Email: "someone@elsewhere.example"}},
	}
}

func actionEvent(typ takedown.EventType, actor, action, reason string) takedown.Event {
	return takedown.Event{ID: string(typ) + "-" + action + "-" + reason[:4], CaseID: "0000000000000A01", Type: typ, At: at, Actor: actor, Reason: reason}.
		WithData(map[string]string{"action": action, "reason": reason})
}

func timeline() []takedown.Event {
	ev := func(typ takedown.EventType, actor, reason string) takedown.Event {
		return takedown.Event{ID: string(typ) + reason, CaseID: "0000000000000A01", Type: typ, At: at, Actor: actor, Reason: reason, Data: json.RawMessage(`{"to":"x"}`)}
	}
	return []takedown.Event{
		ev(takedown.EventReceived, "intake", "report r-1"),
		ev(takedown.EventNoticed, "notify", "first notice accepted for abuse@hoster-a.nl"),
		ev(takedown.EventMoved, "recheck", "material answered from an address outside the enrichment"),
		ev(takedown.EventNoticed, "notify", "first notice accepted for abuse@hoster-b.nl"),
		ev(takedown.EventEscalated, "notify", "escalated to the upstream (noc@upstream.example)"),
		ev(takedown.EventChecked, "recheck", "online: redirected to http://other.example/b.jpg"),
		ev(takedown.EventStateChanged, "alice", "moved by hand"),
		actionEvent(takedown.EventNoticesPaused, "alice", takedown.ActionPause, "police investigation 2026-77"),
		actionEvent(takedown.EventRemovalReported, "alice", takedown.ActionMarkRemoved, "the desk phoned"),
		actionEvent(takedown.EventRemovalReported, "hoster-b", takedown.ActionMarkRemoved, "gone since 10:00"),
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]Role{"reader": Viewer, "viewer": Viewer, "analyst": Analyst, "admin": Admin, "partner": Partner, "hoster": Hoster} {
		if got, err := ParseRole(name); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) = nil error")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Scope
		ok   bool
	}{
		{"viewer", Scope{Role: Viewer}, true},
		{"partner", Scope{Role: Partner, Partner: &PartnerHotline{Country: "DE"}}, true},
		{"partner without a hotline", Scope{Role: Partner}, false},
		{"hoster by ASN", Scope{Role: Hoster, ASNs: []uint{64500}}, true},
		{"hoster bound to nothing", Scope{Role: Hoster}, false},
		{"analyst bound to a domain", Scope{Role: Analyst, Domains: []string{"a.nl"}}, false},
		{"viewer bound to a partner", Scope{Role: Viewer, Partner: &PartnerHotline{Country: "DE"}}, false},
		{"no role", Scope{}, false},
	}
	for _, tt := range tests {
		if err := tt.s.Check(); (err == nil) != tt.ok {
			t.Errorf("%s: Check() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestSees(t *testing.T) {
	t.Parallel()
	c := movedCase()
	forwarded := takedown.Case{ID: "0000000000000A02", Routing: &takedown.Routing{Kind: takedown.RoutePartner, Country: "DE"},
		Notices: []takedown.NoticeRef{{Kind: "forward", Level: "partner", To: "https://hotline.example.de/in", Outcome: "sent"}}}
	tests := []struct {
		name            string
		s               Scope
		moved, fwd, new bool
	}{
		{"viewer", Scope{Role: Viewer}, true, true, true},
		{"hoster A by domain", Scope{Role: Hoster, Domains: []string{"hoster-a.nl"}}, true, false, false},
		{"hoster B by ASN", Scope{Role: Hoster, ASNs: []uint{64501}}, true, false, false},
		{"hoster A by its AS, which no longer hosts it", Scope{Role: Hoster, ASNs: []uint{64500}}, false, false, false},
		{"a domain that is only the tld", Scope{Role: Hoster, Domains: []string{"nl"}}, false, false, false},
		{"partner DE (forward recorded without its country)", Scope{Role: Partner, Partner: &PartnerHotline{Country: "DE"}}, false, true, false},
		{"partner DE by address", Scope{Role: Partner, Partner: &PartnerHotline{Country: "XX", Address: "https://hotline.example.de/in"}}, false, true, false},
		{"partner FR", Scope{Role: Partner, Partner: &PartnerHotline{Country: "FR"}}, false, false, false},
		{"no role", Scope{}, false, false, false},
	}
	for _, tt := range tests {
		got := [3]bool{tt.s.Sees(c), tt.s.Sees(forwarded), tt.s.Sees(takedown.Case{ID: "0000000000000A03"})}
		if want := [3]bool{tt.moved, tt.fwd, tt.new}; got != want {
			t.Errorf("%s: sees moved/forwarded/unnoticed = %v, want %v", tt.name, got, want)
		}
	}
}

// TestHosterSeesNobodyElse: hoster A sees the case that moved from it to
// hoster B, but no address of B's, the upstream's or the registrar's, no
// pause and no analyst; its own notice and its own contact it sees.
func TestHosterSeesNobodyElse(t *testing.T) {
	t.Parallel()
	s := Scope{Token: "hoster-a", Role: Hoster, Domains: []string{"hoster-a.nl"}}
	c := movedCase()
	shown, ok := s.Case(c)
	if !ok {
		t.Fatal("hoster A does not see a case noticed to it")
	}
	body, _ := json.Marshal(struct {
		C takedown.Case
		T []takedown.Event
	}{shown, s.Timeline(c, timeline())})
	for _, never := range []string{"hoster-b.nl", "upstream.example", "registrar.example", "elsewhere.example", "other.example",
		"police", "analyst-7", "alice", "phoned", "rdap.db.ripe.net", "hosted in NL", "gone since"} {
		if strings.Contains(string(body), never) {
			t.Errorf("hoster A sees %q: %s", never, body)
		}
	}
	for _, want := range []string{"abuse@hoster-a.nl", `"TD-A"`, "images.example/a.jpg", "Registrar X", `"removal_reported"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("hoster A does not see %q: %s", want, body)
		}
	}
}

// TestHosterByASNSeesItsOwn: bound by ASN, hoster B sees the addresses its
// notices went to, and its own report with its note; A's address not.
func TestHosterByASNSeesItsOwn(t *testing.T) {
	t.Parallel()
	s := Scope{Token: "hoster-b", Role: Hoster, ASNs: []uint{64501}}
	c := movedCase()
	shown, _ := s.Case(c)
	if len(shown.Notices) != 1 || shown.Notices[0].Ref != "TD-B" {
		t.Errorf("notices = %+v, want TD-B only", shown.Notices)
	}
	if len(shown.Enrichment.Contacts) != 1 || shown.Enrichment.Contacts[0].Email != "abuse@hoster-b.nl" {
		t.Errorf("contacts = %+v", shown.Enrichment.Contacts)
	}
	if shown.Routing.Failing != nil || len(shown.Routing.Contacts) != 1 {
		t.Errorf("routing = %+v", shown.Routing)
	}
	var own, otherNoticed int
	for _, ev := range s.Timeline(c, timeline()) {
		if ev.Actor == "hoster-b" && strings.Contains(ev.Reason, "gone since") && ev.Action() == takedown.ActionMarkRemoved {
			own++
		}
		if strings.Contains(ev.Reason, "hoster-a") {
			otherNoticed++
		}
		if len(ev.Data) > 0 && ev.Actor != "hoster-b" {
			t.Errorf("event %s carries data: %s", ev.Type, ev.Data)
		}
	}
	if own != 1 || otherNoticed != 0 {
		t.Errorf("own reports %d (want 1), events naming hoster A %d (want 0)", own, otherNoticed)
	}
}

func TestPartnerSeesItsForwards(t *testing.T) {
	t.Parallel()
	s := Scope{Token: "hotline-de", Role: Partner, Partner: &PartnerHotline{Country: "DE", Address: "https://hotline.example.de/in"}}
	c := takedown.Case{
		ID: "0000000000000A02", URL: "http://www.hoster.de/x.jpg", State: takedown.StateForwarded,
		Enrichment: &takedown.Enrichment{Contacts: []takedown.Contact{{Email: "abuse@hoster.de", Role: "hoster"}}},
		Routing:    &takedown.Routing{Kind: takedown.RoutePartner, Country: "DE", Partner: "Hotline DE"},
		Notices: []takedown.NoticeRef{
			{Ref: "TD-N", Kind: "first", Level: "hoster", To: "abuse@hoster.de", Outcome: "failed"},
			{Ref: "TD-F", Kind: "forward", Level: "partner", To: "https://hotline.example.de/in", Partner: "DE", Outcome: "sent"},
		},
		Pause: &takedown.Pause{Reason: "hold"},
	}
	shown, ok := s.Case(c)
	if !ok || len(shown.Notices) != 1 || shown.Notices[0].Ref != "TD-F" || shown.Pause != nil || shown.Enrichment.Contacts[0].Email != "abuse@hoster.de" {
		t.Errorf("partner sees %+v (ok %v)", shown, ok)
	}
	n := takedown.Notice{Ref: "TD-F", Kind: "forward", Level: "partner", To: "https://hotline.example.de/in", Partner: "DE", Cases: []string{c.ID, "0000000000000A09"},
		Items: []takedown.NoticeItem{{CaseID: c.ID, URL: c.URL}, {CaseID: "0000000000000A09", URL: "http://www.other.de/"}}}
	other := takedown.Case{ID: "0000000000000A09"}
	got, ok := s.Notice(n, []takedown.Case{c, other})
	if !ok || len(got.Items) != 1 || len(got.Cases) != 1 {
		t.Errorf("notice as the partner sees it: %+v (ok %v)", got, ok)
	}
	if _, ok := s.Notice(takedown.Notice{Ref: "TD-N", Kind: "first", Level: "hoster", To: "abuse@hoster.de", Cases: []string{c.ID}}, []takedown.Case{c}); ok {
		t.Error("the partner sees the hoster's notice")
	}
}

func TestMayAct(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		role   Role
		action string
		ok     bool
	}{
		{Viewer, takedown.ActionCheck, false},
		{Analyst, takedown.ActionClose, true},
		{Admin, takedown.ActionPause, true},
		{Analyst, "reboot", false},
		{Partner, takedown.ActionPartnerStatus, true},
		{Partner, takedown.ActionMarkRemoved, false},
		{Hoster, takedown.ActionMarkRemoved, true},
		{Hoster, takedown.ActionClose, false},
	} {
		if got := (Scope{Role: tt.role}).MayAct(tt.action); got != tt.ok {
			t.Errorf("%s may %s = %v, want %v", tt.role, tt.action, got, tt.ok)
		}
	}
}
