package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestListByAudience lists the cases noticed to a hoster's domain, hosted
// in its AS, or forwarded to a partner, with the index and without (while
// it loads), and follows a notice recorded after the index loaded.
func TestListByAudience(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 12 {
		at := base.Add(time.Duration(i) * time.Minute)
		c := takedown.Case{ID: CaseID(at, uint64(i+1)), State: takedown.StateNoticed, ReceivedAt: at,
			Enrichment: &takedown.Enrichment{Addresses: []takedown.AddressInfo{{IP: "192.0.2.1", ASN: 64500 + uint(i%2)}},
				Contacts: []takedown.Contact{{Email: "abuse@mail.hoster-a.nl", Role: "hoster"}, {Email: "abuse@hoster-b.nl", Role: "hoster"}}}}
		switch i % 3 {
		case 0:
			c.Notices = []takedown.NoticeRef{{Kind: "first", Level: "hoster", To: "abuse@mail.hoster-a.nl", Outcome: "sent"}}
		case 1:
			c.Notices = []takedown.NoticeRef{{Kind: "first", Level: "hoster", To: "abuse@hoster-b.nl", Outcome: "failed"}}
		case 2:
			c.State = takedown.StateForwarded
			c.Notices = []takedown.NoticeRef{{Kind: "forward", Level: "partner", To: "https://hotline.example.de/in", Partner: "DE", Outcome: "sent"}}
		}
		if _, err := st.CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	pick := func(keep func(i int) bool) []string {
		var out []string
		for i, id := range ids {
			if keep(i) {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		name string
		f    ListFilter
		want []string
	}{
		{"a domain above the recipient's", ListFilter{Audiences: []string{takedown.AudienceDomain("hoster-a.nl")}, Limit: 2}, pick(func(i int) bool { return i%3 == 0 })},
		{"two domains, merged in order", ListFilter{Audiences: []string{takedown.AudienceDomain("hoster-b.nl"), takedown.AudienceDomain("hoster-a.nl")}, Limit: 3}, pick(func(i int) bool { return i%3 != 2 })},
		{"an AS whose hoster was noticed", ListFilter{Audiences: []string{takedown.AudienceASN(64501)}, Limit: 10}, pick(func(i int) bool { return i%2 == 1 && i%3 != 2 })},
		{"a domain and its AS overlap once", ListFilter{Audiences: []string{takedown.AudienceASN(64500), takedown.AudienceDomain("hoster-a.nl")}, Limit: 10}, pick(func(i int) bool { return i%3 == 0 || i%2 == 0 && i%3 == 1 })},
		{"a partner", ListFilter{Audiences: []string{takedown.AudiencePartner("de")}, Limit: 1}, pick(func(i int) bool { return i%3 == 2 })},
		{"a partner by state", ListFilter{Audiences: []string{takedown.AudiencePartner("DE")}, State: takedown.StateNoticed, Limit: 5}, nil},
		{"keys nobody has", ListFilter{Audiences: []string{takedown.AudienceDomain("other.nl")}, Limit: 5}, nil},
		{"no keys sees nothing", ListFilter{Audiences: []string{}, Limit: 5}, nil},
	}
	check := func(phase string) {
		for _, tc := range tests {
			if got := listAll(t, st, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s, %s: got %v, want %v", phase, tc.name, got, tc.want)
			}
		}
	}
	check("without index")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- st.RunCaseIndex(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitIndexed(t, st, len(ids))
	check("with index")

	// A notice recorded later puts the case in the new audience.
	if _, err := st.Update(t.Context(), ids[1], func(c *takedown.Case) ([]takedown.Event, error) {
		c.Notices = append(c.Notices, takedown.NoticeRef{Kind: "first", Level: "hoster", To: "abuse@other.nl", Outcome: "sent"})
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	f := ListFilter{Audiences: []string{takedown.AudienceDomain("other.nl")}, Limit: 5}
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		if got := listAll(t, st, f); slices.Equal(got, ids[1:2]) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Error("the new notice never showed in List by audience")
}

func TestAudiencesIndex(t *testing.T) {
	t.Parallel()
	ix := caseIndex{state: map[string]takedown.State{}, aud: newAudiences(), ready: true}
	ix.put("C", takedown.StateNoticed, []string{"k1"})
	ix.put("A", takedown.StateNoticed, []string{"k1", "k2"})
	ix.put("B", takedown.StateRemoved, []string{"k2"})
	ix.put("C", takedown.StateNoticed, []string{"k2"}) // moves from k1 to k2
	ix.remove("A")
	if got, _, _ := ix.next("", "", "", "", []string{"k1"}, 10); len(got) != 0 {
		t.Errorf("k1 = %v, want none", got)
	}
	if got, more, _ := ix.next("", "", "", "", []string{"k1", "k2"}, 1); !slices.Equal(got, []string{"B"}) || !more {
		t.Errorf("first of k1,k2 = %v (more %v), want [B] and more", got, more)
	}
	if got, _, _ := ix.next("B", "", "", takedown.StateNoticed, []string{"k2"}, 10); !slices.Equal(got, []string{"C"}) {
		t.Errorf("noticed in k2 after B = %v, want [C]", got)
	}
	if len(ix.aud.ids) != 1 || len(ix.aud.of) != 2 {
		t.Errorf("index keeps %v / %v, want k2 only for B and C", ix.aud.ids, ix.aud.of)
	}
}

// An idList holds the set its inserts and removals leave, in order
// however the ids come — mostly rising with a burst out of order, as the
// cases of a burst are enriched — across merges of its recent ids.
func TestIDListKeepsTheSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l idList
	want := map[string]bool{}
	for i := range 6 * recentMax {
		n := i
		if rng.IntN(3) == 0 {
			n = rng.IntN(i + 1) // an older case, told about late
		}
		id := fmt.Sprintf("%08d", n)
		if rng.IntN(10) == 0 {
			l.remove(id)
			delete(want, id)
			continue
		}
		l.insert(id)
		want[id] = true
	}
	got := mergeSorted(l.main, l.recent)
	if !slices.IsSorted(got) || len(got) != len(want) || l.len() != len(want) {
		t.Fatalf("list of %d ids (sorted %v), want %d", len(got), slices.IsSorted(got), len(want))
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("list holds %s, which was removed or never inserted", id)
		}
	}
}

// BenchmarkAudienceBurst tells the index about 300,000 cases of one
// audience (a partner's, a big hoster's) in the order a burst notices
// them: by batch, not by the time each case opened — 100 cases at a time
// from anywhere in the burst. It reports the CPU per case told.
//
//	go test -run '^$' -bench BenchmarkAudienceBurst ./pkg/store
func BenchmarkAudienceBurst(b *testing.B) {
	const n, batch = 300_000, 100
	ids := make([]string, n)
	for i := range ids {
		ids[i] = CaseID(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Millisecond), uint64(i))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	order := rng.Perm(n / batch)
	keys := []string{takedown.AudiencePartner("US")}
	for b.Loop() {
		a := newAudiences()
		for _, start := range order {
			for _, id := range ids[start*batch : (start+1)*batch] {
				a.set(id, keys)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/case")
}
