package stats

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// scriptWatcher is a Watcher that plays a script into the feed, then
// waits for the stop.
type scriptWatcher struct {
	script func(f store.CaseFeed)
	played chan struct{}
}

func (w *scriptWatcher) CasesBucket(context.Context) (store.BucketState, error) {
	return store.BucketState{Created: t0, LastRevision: 1 << 20}, nil
}

func (w *scriptWatcher) WatchCases(ctx context.Context, _ uint64, f store.CaseFeed) error {
	w.script(f)
	close(w.played)
	<-ctx.Done()
	return nil
}

func runScript(t *testing.T, opts Options, script func(f store.CaseFeed)) *Aggregate {
	t.Helper()
	w := &scriptWatcher{script: script, played: make(chan struct{})}
	a := New(w, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = a.Run(ctx) }()
	<-w.played
	return a
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func idAt(i int) string { return store.CaseID(t0.Add(time.Duration(i)*time.Minute), uint64(i+1)) }

func caseOf(i int, st takedown.State) *takedown.Case {
	return &takedown.Case{ID: idAt(i), State: st, ReceivedAt: t0.Add(time.Duration(i) * time.Minute), UpdatedAt: t0}
}

func TestCaseKeysRoundTripAndSort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for range 2000 {
		ids = append(ids, store.CaseID(time.UnixMilli(rng.Int64N(1<<44)), rng.Uint64N(1<<35)))
	}
	ids = append(ids, "0000000000000000", "ZZZZZZZZZZZZZZZZ")
	for _, id := range ids {
		k, ok := keyOf(id)
		if !ok || k.String() != id {
			t.Fatalf("%s → %v → %s", id, ok, k.String())
		}
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		a, _ := keyOf(ids[i-1])
		b, _ := keyOf(ids[i])
		if compareKeys(a, b) > 0 {
			t.Fatalf("%s sorts after %s as a key", ids[i-1], ids[i])
		}
	}
	for _, bad := range []string{"", "short", "000000000000000I", "00000000000000000"} {
		if _, ok := keyOf(bad); ok {
			t.Errorf("keyOf(%q) accepted", bad)
		}
	}
}

func TestLoadKeepsTheLastOfEachCase(t *testing.T) {
	t.Parallel()
	a := runScript(t, Options{Now: func() time.Time { return t0 }}, func(f store.CaseFeed) {
		f.Put(1, caseOf(3, takedown.StateReceived))
		f.Put(2, caseOf(1, takedown.StateReceived))
		f.Put(3, caseOf(2, takedown.StateReceived))
		// Changed and deleted while the load runs: they come again.
		f.Put(4, caseOf(1, takedown.StateNoticed))
		f.Delete(5, idAt(2))
		f.Put(6, &takedown.Case{ID: "not a case id"})
		// Decoded on two cores: the newer may come first.
		f.Put(12, caseOf(5, takedown.StateReview))
		f.Put(11, caseOf(5, takedown.StateReceived))
		f.Loaded()
		f.Put(7, caseOf(0, takedown.StateReview))
		f.Put(8, caseOf(3, takedown.StateClosed))
		f.Delete(9, idAt(1))
		f.Delete(10, idAt(9)) // never known
	})
	s, err := a.Stats(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"review": 2, "closed": 1}
	for st, n := range s.ByState {
		if n != want[st] {
			t.Errorf("%s: %d cases, want %d", st, n, want[st])
		}
	}
	if s.Cases != 3 || s.Open != 2 || a.Size() != 3 {
		t.Errorf("%d cases, %d open, size %d; want 3, 2, 3", s.Cases, s.Open, a.Size())
	}
	ids := a.Due(t0.Add(time.Hour), 10)
	if !slices.Equal(ids, []string{idAt(3)}) {
		t.Errorf("due %v, want the closed case", ids)
	}
}

func TestNoAnswerUntilLoaded(t *testing.T) {
	t.Parallel()
	a := runScript(t, Options{}, func(f store.CaseFeed) { f.Put(1, caseOf(1, takedown.StateReceived)) })
	if _, err := a.Stats(Filter{}); !errors.Is(err, ErrLoading) {
		t.Errorf("Stats before the load: %v, want ErrLoading", err)
	}
	if _, err := a.Hosters(HosterQuery{}); !errors.Is(err, ErrLoading) {
		t.Errorf("Hosters before the load: %v, want ErrLoading", err)
	}
	if ids := a.Due(t0.AddDate(1, 0, 0), 10); ids != nil {
		t.Errorf("due before the load: %v", ids)
	}
}

func TestNoDataGivesNulls(t *testing.T) {
	t.Parallel()
	a := runScript(t, Options{HotlineCountry: "nl"}, func(f store.CaseFeed) { f.Loaded() })
	s, err := a.Stats(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cases != 0 || s.ToRemoval.P50 != nil || s.ToFirstNotice.P99 != nil || s.Hosting.DomesticShare != nil || s.Hosting.HotlineCountry != "NL" {
		t.Errorf("empty stats: %+v", s)
	}
	for _, w := range s.RemovedWithin {
		if w.Share != nil || w.Of != 0 {
			t.Errorf("window %s: %+v", w.Window, w)
		}
	}
	if len(s.ByState) != len(takedown.States) {
		t.Errorf("by_state lists %d states, want all %d", len(s.ByState), len(takedown.States))
	}
	list, err := a.Hosters(HosterQuery{})
	if err != nil || list.Total != 0 || list.Hosters == nil {
		t.Errorf("hosters of nothing: %+v, %v", list, err)
	}
}

func TestPercentilesAreNearestRank(t *testing.T) {
	t.Parallel()
	sec := func(n ...uint64) []uint64 {
		out := make([]uint64, len(n))
		for i, v := range n {
			out[i] = v * 1e9
		}
		return out
	}
	tests := []struct {
		name          string
		values        []uint64
		p50, p90, p99 float64
	}{
		{"one value", sec(7), 7, 7, 7},
		{"ten", sec(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 5, 9, 10},
		{"two", sec(1, 100), 1, 100, 100},
		{"hundred and one", func() []uint64 {
			var v []uint64
			for i := range 101 {
				v = append(v, uint64(i+1)*1e9)
			}
			return v
		}(), 51, 91, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := durations(tt.values)
			if *d.P50 != tt.p50 || *d.P90 != tt.p90 || *d.P99 != tt.p99 {
				t.Errorf("p50 %v p90 %v p99 %v, want %v %v %v", *d.P50, *d.P90, *d.P99, tt.p50, tt.p90, tt.p99)
			}
		})
	}
}

func TestSelectAndCountDistinct(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 17, 1000, 100000} {
		for _, spread := range []uint64{1, 3, 1 << 16, ^uint64(0)} {
			v := make([]uint64, n)
			for i := range v {
				v[i] = rng.Uint64() % spread
				if spread == ^uint64(0) {
					v[i] = rng.Uint64()
				}
			}
			if spread == 3 && n > 2 {
				slices.Sort(v) // sorted input: the pivot's worst case
			}
			sorted := slices.Sorted(slices.Values(v))
			for _, k := range []int{0, n / 2, n * 9 / 10, n - 1} {
				w := slices.Clone(v)
				selectNth(w, k)
				if w[k] != sorted[k] {
					t.Fatalf("%d values below %d: element %d is %d, want %d", n, spread, k, w[k], sorted[k])
				}
			}
			if got, want := countDistinct(slices.Clone(v), make([]uint64, n)), distinctSorted(sorted); got != want {
				t.Errorf("%d values below %d: %d distinct, want %d", n, spread, got, want)
			}
		}
	}
}

func noticed(i int, to string, asn uint, partner string) *takedown.Case {
	c := caseOf(i, takedown.StateNoticed)
	c.Enrichment = &takedown.Enrichment{Addresses: []takedown.AddressInfo{{ASN: asn}}, Contacts: []takedown.Contact{{Email: to, Role: "hoster"}}}
	c.Routing = &takedown.Routing{Kind: takedown.RouteHoster}
	ref := takedown.NoticeRef{Ref: "TD-" + c.ID, Kind: "first", Level: "hoster", Channel: "email", To: to, At: c.ReceivedAt, Outcome: "sent"}
	if partner != "" {
		c.Routing.Kind, c.Routing.Country, c.Routing.Partner = takedown.RoutePartner, partner, "eco"
		ref.Kind, ref.Level, ref.Partner = takedown.NoticeKindForward, takedown.NoticeLevelPartner, partner
	}
	c.Notices = []takedown.NoticeRef{ref}
	return c
}

// The statistics apply the one rule of who outside sees a case (its
// audience keys), and a hoster token lists no hoster but itself.
func TestAudiencesLimitCasesAndOwnLimitsHosters(t *testing.T) {
	t.Parallel()
	a := runScript(t, Options{}, func(f store.CaseFeed) {
		f.Put(1, noticed(1, "abuse@nl.example.com", 64500, ""))
		f.Put(2, noticed(2, "abuse@example.com", 64501, ""))
		f.Put(3, noticed(3, "abuse@other.net", 64500, ""))
		f.Put(4, noticed(4, "reports@partner.example", 64502, "DE"))
		// Escalated to example.com as the upstream: example.com was told,
		// but its hoster (other.org) is not listed to it.
		esc := noticed(6, "abuse@other.org", 64999, "")
		esc.Notices = append(esc.Notices, takedown.NoticeRef{Kind: "escalation", Level: "upstream", Channel: "email", To: "noc@example.com", At: esc.ReceivedAt, Outcome: "sent"})
		f.Put(6, esc)
		f.Put(7, caseOf(7, takedown.StateReceived)) // told to nobody
		f.Loaded()
	})
	dom := takedown.AudienceDomain
	tests := []struct {
		name      string
		audiences []string
		own       *Own
		cases     int
		hosters   []string
	}{
		{"everything", nil, nil, 6, []string{"example.com", "other.net", "other.org", "partner.example", "unknown"}},
		{"a domain and below", []string{dom("example.com")}, &Own{Domains: []string{"example.com"}}, 3, []string{"example.com"}},
		{"an AS", []string{takedown.AudienceASN(64500)}, &Own{ASNs: []uint{64500}}, 2, []string{"example.com", "other.net"}},
		{"a partner", []string{takedown.AudiencePartner("de")}, nil, 1, []string{"partner.example"}},
		{"no keys", []string{}, nil, 0, nil},
		{"a domain told nothing", []string{dom("example.org")}, &Own{Domains: []string{"example.org"}}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Filter{Audiences: tt.audiences, Own: tt.own}
			s, err := a.Stats(f)
			if err != nil {
				t.Fatal(err)
			}
			if s.Cases != tt.cases {
				t.Errorf("%d cases, want %d", s.Cases, tt.cases)
			}
			list, err := a.Hosters(HosterQuery{Filter: f, Sort: "id", Order: "asc"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range list.Hosters {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, tt.hosters) {
				t.Errorf("hosters %v, want %v", got, tt.hosters)
			}
		})
	}
	own := Filter{Audiences: []string{dom("example.com")}, Own: &Own{Domains: []string{"example.com"}}}
	if _, err := a.Hoster("other.org", own); !errors.Is(err, ErrUnknownHoster) {
		t.Errorf("another hoster to a hoster's token: %v, want ErrUnknownHoster", err)
	}
}

func TestHosterKey(t *testing.T) {
	t.Parallel()
	cdn := &takedown.CDN{Name: "Cloudflare", Contact: &takedown.Contact{Email: "abuse@cloudflare.com", Role: "cdn"}}
	tests := []struct {
		name string
		c    takedown.Case
		want string
	}{
		{"no enrichment", takedown.Case{}, "unknown"},
		{"the hoster's registrable domain", takedown.Case{Enrichment: &takedown.Enrichment{Contacts: []takedown.Contact{
			{Email: "abuse@upstream.net", Role: "upstream"}, {Email: "Abuse@Mail.Small.co.uk", Role: "hoster"}}}}, "small.co.uk"},
		{"behind a CDN", takedown.Case{Enrichment: &takedown.Enrichment{CDN: cdn, Contacts: []takedown.Contact{{Email: "abuse@cloudflare.com", Role: "cdn"}}}}, "cloudflare.com"},
		{"behind a CDN, the operator noticed from the contact book", takedown.Case{
			Enrichment: &takedown.Enrichment{CDN: cdn, Contacts: []takedown.Contact{{Email: "abuse@operator.nl", Role: "hoster"}, {Email: "abuse@cloudflare.com", Role: "cdn"}}},
			Routing:    &takedown.Routing{Kind: takedown.RouteHoster}}, "operator.nl"},
		{"no contact: the AS", takedown.Case{Enrichment: &takedown.Enrichment{Addresses: []takedown.AddressInfo{{}, {ASN: 64512}}}}, "AS64512"},
		{"anonymised", takedown.Case{Anonymised: &takedown.Anonymised{Hoster: "leaseweb.com"}}, "leaseweb.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HosterKey(&tt.c); got != tt.want {
				t.Errorf("HosterKey = %q, want %q", got, tt.want)
			}
		})
	}
	for in, want := range map[string]string{"as64512": "AS64512", "Example.COM": "example.com", "asx": "asx"} {
		if got := NormalHosterKey(in); got != want {
			t.Errorf("NormalHosterKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDueFindsClosedAndHalfDone(t *testing.T) {
	t.Parallel()
	old := caseOf(1, takedown.StateClosed)
	recent := caseOf(2, takedown.StateClosed)
	recent.UpdatedAt = t0.Add(48 * time.Hour)
	half := caseOf(3, takedown.StateClosed)
	half.UpdatedAt, half.Anonymised = t0.Add(72*time.Hour), &takedown.Anonymised{}
	done := caseOf(4, takedown.StateClosed)
	done.Anonymised = &takedown.Anonymised{TimelineRedacted: true}
	a := runScript(t, Options{}, func(f store.CaseFeed) {
		for i, c := range []*takedown.Case{old, recent, half, done, caseOf(5, takedown.StateNoticed)} {
			f.Put(uint64(i+1), c)
		}
		f.Loaded()
	})
	if got := a.Due(t0.Add(time.Hour), 10); !slices.Equal(got, []string{old.ID, half.ID}) {
		t.Errorf("due %v, want %v", got, []string{old.ID, half.ID})
	}
	if got := a.Due(t0.Add(time.Hour), 1); len(got) != 1 {
		t.Errorf("due with a batch of 1: %v", got)
	}
}
