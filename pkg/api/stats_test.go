package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/natstest"
	"github.com/takedownd/takedownd/pkg/scope"
	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

const statsToken = "stats-test-token-0123456789abcdef"

// The outside tokens of the statistics tests: a hoster bound to a domain,
// a hoster bound to an AS, a partner hotline.
var statsTokens = []Token{
	{Secret: statsToken, Scope: scope.Scope{Token: "viewer", Role: scope.Viewer}},
	{Secret: "stats-hoster-domain", Scope: scope.Scope{Token: "bigcloud", Role: scope.Hoster, Domains: []string{"bigcloud.com"}}},
	{Secret: "stats-hoster-asn", Scope: scope.Scope{Token: "nlh", Role: scope.Hoster, ASNs: []uint{64501}}},
	{Secret: "stats-partner", Scope: scope.Scope{Token: "eco", Role: scope.Partner, Partner: &scope.PartnerHotline{Country: "DE", Name: "eco"}}},
}

// statsAPI is the status API with the statistics over a real store.
type statsAPI struct {
	srv *httptest.Server
	st  *store.Store
	agg *stats.Aggregate
}

func startStatsAPI(t testing.TB, now time.Time, h *stats.URLHasher, cases []takedown.Case) *statsAPI {
	t.Helper()
	ns := natstest.Start(t)
	log := slog.New(slog.DiscardHandler)
	st, err := store.Open(t.Context(), ns.JS, store.Options{
		Retry: broker.Retrier{CallTimeout: 10 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	seedStore(t, st, cases)
	agg := stats.New(st, stats.Options{HotlineCountry: "NL", Hasher: h, Now: func() time.Time { return now }, Log: log})
	go func() { _ = agg.Run(t.Context()) }()
	waitFor(t, "the statistics to load every case", func() bool { return agg.Loaded() && agg.Size() == len(cases) })
	api, err := New(st, Options{Tokens: statsTokens, PageSize: 50, MaxPageSize: 1000, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	api.ServeStats(agg)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &statsAPI{srv: srv, st: st, agg: agg}
}

// seedStore writes cases directly into the store, 32 at a time.
func seedStore(t testing.TB, st *store.Store, cases []takedown.Case) {
	t.Helper()
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(cases))
	for _, c := range cases {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			// A loaded machine may time a write out: try again, and a
			// write that did land the first time is there.
			var err error
			for range 3 {
				if _, err = st.CreateCase(t.Context(), c); err == nil || errors.Is(err, jetstream.ErrKeyExists) {
					return
				}
			}
			errs <- err
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *statsAPI) get(t testing.TB, path string, accept string, out any) (int, []byte) {
	t.Helper()
	return s.getAs(t, statsToken, path, accept, out)
}

func (s *statsAPI) getAs(t testing.TB, token, path string, accept string, out any) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
	}
	return resp.StatusCode, body
}

// naiveFilter is a filter as the naive computation applies it.
type naiveFilter struct {
	from, to               time.Time
	country, hoster, route string
	// sees is the token's own rule, nil for the hotline's roles.
	sees func(truth) bool
}

func (f naiveFilter) query() string {
	v := url.Values{}
	if !f.from.IsZero() {
		v.Set("from", f.from.Format(time.RFC3339Nano))
	}
	if !f.to.IsZero() {
		v.Set("to", f.to.Format(time.RFC3339Nano))
	}
	for k, s := range map[string]string{"country": f.country, "hoster": f.hoster, "route": f.route} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

func (f naiveFilter) selects(tr truth) bool {
	route := tr.route
	if route == "" {
		route = "unrouted"
	}
	country := tr.country
	if country == "" {
		country = "unknown"
	}
	return (f.sees == nil || f.sees(tr)) && (f.from.IsZero() || !tr.confirmed.Before(f.from)) && (f.to.IsZero() || tr.confirmed.Before(f.to)) &&
		(f.country == "" || strings.EqualFold(f.country, country)) && (f.hoster == "" || f.hoster == tr.hoster) &&
		(f.route == "" || f.route == route)
}

// nearestRank is the p-th percentile by the textbook definition, in
// seconds: sort, take the value at rank ceil(p/100·n).
func nearestRank(ds []time.Duration, p float64) *float64 {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100 + 0.999999999)
	v := s[rank-1].Seconds()
	return &v
}

func naiveDurations(ds []time.Duration) stats.Durations {
	return stats.Durations{Count: len(ds), P50: nearestRank(ds, 50), P90: nearestRank(ds, 90), P99: nearestRank(ds, 99)}
}

func ratio(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	r := float64(n) / float64(of)
	return &r
}

// naiveWithin is the share removed within w of start over the noticed
// cases whose outcome for w is known at now.
func naiveWithin(trs []truth, name string, w time.Duration, start func(truth) time.Time, now time.Time) stats.Within {
	out := stats.Within{Window: name, Seconds: int64(w / time.Second)}
	for _, tr := range trs {
		if tr.firstNotice.IsZero() && tr.removed.IsZero() {
			continue
		}
		switch {
		case !tr.removed.IsZero():
			out.Of++
			if tr.removed.Sub(start(tr)) <= w {
				out.Removed++
			}
		case tr.state == takedown.StateClosed || now.Sub(start(tr)) >= w:
			out.Of++
		}
	}
	out.Share = ratio(out.Removed, out.Of)
	return out
}

// naiveStats computes the figures from the truths, case by case.
func naiveStats(all []truth, f naiveFilter, now time.Time) stats.Stats {
	var sel []truth
	for _, tr := range all {
		if f.selects(tr) {
			sel = append(sel, tr)
		}
	}
	s := stats.Stats{ByState: map[string]int{}, ByRoute: map[string]int{}, Hosting: stats.Hosting{HotlineCountry: "NL", ByCountry: map[string]int{}}}
	for _, st := range takedown.States {
		s.ByState[string(st)] = 0
	}
	for _, r := range stats.RouteNames() {
		s.ByRoute[r] = 0
	}
	var notice, removal, reaction []time.Duration
	urls := map[string]int{}
	for _, tr := range sel {
		s.Cases++
		if tr.state != takedown.StateClosed {
			s.Open++
		}
		s.ByState[string(tr.state)]++
		route := tr.route
		if route == "" {
			route = "unrouted"
		}
		s.ByRoute[route]++
		if tr.country != "" {
			s.Hosting.Known++
			if tr.country == "NL" {
				s.Hosting.Domestic++
			}
			s.Hosting.ByCountry[tr.country]++
		} else {
			s.Hosting.ByCountry["unknown"]++
		}
		if !tr.firstNotice.IsZero() {
			notice = append(notice, tr.firstNotice.Sub(tr.confirmed))
		}
		if !tr.removed.IsZero() {
			removal = append(removal, tr.removed.Sub(tr.confirmed))
			if !tr.firstNotice.IsZero() {
				reaction = append(reaction, tr.removed.Sub(tr.firstNotice))
			}
		}
		if !tr.firstNotice.IsZero() && tr.removed.IsZero() && tr.state != takedown.StateClosed {
			s.Pending++
		}
		s.Reappearances += tr.reopened
		if tr.reopened > 0 {
			s.CasesReappeared++
		}
		s.Reminders += tr.reminders
		s.Escalations += tr.escalations
		s.FailedNotices += tr.failed
		if tr.anonymised {
			s.Anonymised++
		}
		urls[tr.url]++
	}
	s.DistinctURLs = len(urls)
	s.RepeatedURLs = s.Cases - len(urls)
	s.Hosting.DomesticShare = ratio(s.Hosting.Domestic, s.Hosting.Known)
	s.ToFirstNotice, s.ToRemoval, s.NoticeToRemoval = naiveDurations(notice), naiveDurations(removal), naiveDurations(reaction)
	for _, w := range []struct {
		name string
		d    time.Duration
	}{{"1h", time.Hour}, {"12h", 12 * time.Hour}, {"24h", 24 * time.Hour}, {"72h", 72 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		s.RemovedWithin = append(s.RemovedWithin, naiveWithin(sel, w.name, w.d, func(tr truth) time.Time { return tr.confirmed }, now))
	}
	return s
}

// figures drops what the naive computation does not produce (the echo).
func figures(s stats.Stats) stats.Stats {
	s.Filter, s.GeneratedAt = stats.FilterView{}, time.Time{}
	return s
}

func diffJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) == string(w) {
		return
	}
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := range max(len(gl), len(wl)) {
		var a, b string
		if i < len(gl) {
			a = gl[i]
		}
		if i < len(wl) {
			b = wl[i]
		}
		if a != b {
			t.Errorf("%s: first difference at line %d: got %s, want %s", what, i+1, a, b)
			return
		}
	}
}

func TestStatsMatchNaiveComputation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	h := stats.NewURLHasher([]byte("0123456789abcdef0123456789abcdef"))
	cases, truths := seedCases(rand.New(rand.NewPCG(11, 1)), 600, now, h)
	api := startStatsAPI(t, now, h, cases)
	year := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    naiveFilter
	}{
		{"everything", naiveFilter{}},
		{"2025", naiveFilter{from: year, to: year.AddDate(1, 0, 0)}},
		{"since last week", naiveFilter{from: now.Add(-7 * 24 * time.Hour)}},
		{"domestic", naiveFilter{country: "nl"}},
		{"country unknown", naiveFilter{country: "unknown"}},
		{"one hoster", naiveFilter{hoster: "bigcloud.com"}},
		{"hoster by AS", naiveFilter{hoster: "AS64509"}},
		{"forwarded", naiveFilter{route: "partner"}},
		{"not routed", naiveFilter{route: "unrouted"}},
		{"cdn in 2025", naiveFilter{route: "cdn", from: year, to: year.AddDate(1, 0, 0)}},
		{"no data", naiveFilter{from: time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(1996, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"unknown hoster name", naiveFilter{hoster: "nobody.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got stats.Stats
			if code, body := api.get(t, "/v1/stats?"+tt.f.query(), "", &got); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			want := naiveStats(truths, tt.f, now)
			diffJSON(t, "stats", figures(got), want)
			if got.Filter.Basis != "confirmed_at" || !got.GeneratedAt.Equal(now) {
				t.Errorf("echo %+v at %s", got.Filter, got.GeneratedAt)
			}
		})
	}
	// Outside tokens: the same figures over the cases told to them.
	scoped := []struct {
		name, token string
		sees        func(truth) bool
	}{
		{"hoster by domain", "stats-hoster-domain", func(tr truth) bool { return slices.Contains(tr.noticedTo, "noc.bigcloud.com") }},
		{"hoster by AS", "stats-hoster-asn", func(tr truth) bool { return slices.Contains(tr.asns, 64501) && tr.hosterNoticed }},
		{"partner", "stats-partner", func(tr truth) bool { return tr.partnerCountry == "DE" }},
	}
	for _, sc := range scoped {
		t.Run(sc.name, func(t *testing.T) {
			f := naiveFilter{sees: sc.sees}
			var got stats.Stats
			if code, body := api.getAs(t, sc.token, "/v1/stats", "", &got); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			want := naiveStats(truths, f, now)
			if want.Cases == 0 {
				t.Fatal("the data set tells this token nothing")
			}
			diffJSON(t, "stats", figures(got), want)
			f.from = year
			got = stats.Stats{}
			api.getAs(t, sc.token, "/v1/stats?"+f.query(), "", &got)
			diffJSON(t, "stats since 2025", figures(got), naiveStats(truths, f, now))
		})
	}

	// The data set must hold every edge the rules are about, or the
	// comparison above proves less than it seems.
	all := naiveStats(truths, naiveFilter{}, now)
	if all.Pending == 0 || all.CasesReappeared == 0 || all.RepeatedURLs == 0 || all.Anonymised == 0 || all.FailedNotices == 0 ||
		all.RemovedWithin[0].Removed == 0 || all.RemovedWithin[4].Of == all.RemovedWithin[0].Of {
		t.Fatalf("the data set lacks an edge case: %+v", all)
	}
}

// naiveHosters computes each hoster's figures from the truths.
func naiveHosters(all []truth, now time.Time) map[string]stats.Hoster {
	byKey := map[string][]truth{}
	for _, tr := range all {
		byKey[tr.hoster] = append(byKey[tr.hoster], tr)
	}
	out := map[string]stats.Hoster{}
	for key, trs := range byKey {
		h := stats.Hoster{ID: key}
		var reaction []time.Duration
		bounced := map[string]bool{}
		for _, tr := range trs {
			h.Cases++
			if tr.state != takedown.StateClosed {
				h.Open++
			}
			if !tr.removed.IsZero() {
				h.Removed++
				if !tr.firstNotice.IsZero() {
					reaction = append(reaction, tr.removed.Sub(tr.firstNotice))
				}
			}
			h.Reminders += tr.reminders
			h.Escalations += tr.escalations
			h.Reappearances += tr.reopened
			h.FailedNotices += tr.failed
			for _, a := range tr.failingTo {
				bounced[a] = true
			}
		}
		h.NoticeToRemoval = naiveDurations(reaction)
		h.P50RemovalSeconds, h.P90RemovalSeconds = h.NoticeToRemoval.P50, h.NoticeToRemoval.P90
		var noticed []truth
		for _, tr := range trs {
			if !tr.firstNotice.IsZero() {
				noticed = append(noticed, tr)
			}
		}
		h.RemovedWithin24h = naiveWithin(noticed, "24h", 24*time.Hour, func(tr truth) time.Time { return tr.firstNotice }, now)
		h.BouncedContacts = len(bounced)
		out[key] = h
	}
	return out
}

// hosterFigures keeps what naiveHosters computes.
func hosterFigures(h stats.Hoster) stats.Hoster {
	return stats.Hoster{
		ID: h.ID, Cases: h.Cases, Open: h.Open, Removed: h.Removed, NoticeToRemoval: h.NoticeToRemoval,
		P50RemovalSeconds: h.P50RemovalSeconds, P90RemovalSeconds: h.P90RemovalSeconds, RemovedWithin24h: h.RemovedWithin24h,
		Reminders: h.Reminders, Escalations: h.Escalations, Reappearances: h.Reappearances,
		FailedNotices: h.FailedNotices, BouncedContacts: h.BouncedContacts,
	}
}

func TestHostersMatchNaiveComputation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	h := stats.NewURLHasher([]byte("0123456789abcdef0123456789abcdef"))
	cases, truths := seedCases(rand.New(rand.NewPCG(12, 2)), 500, now, h)
	api := startStatsAPI(t, now, h, cases)
	want := naiveHosters(truths, now)

	var list stats.HosterList
	if code, body := api.get(t, "/v1/hosters", "", &list); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if list.Total != len(want) || len(list.Hosters) != len(want) || list.Sort != "p90_removal" || list.Order != "desc" {
		t.Fatalf("%d hosters of %d sorted %s %s, want %d by p90_removal desc", len(list.Hosters), list.Total, list.Sort, list.Order, len(want))
	}
	for _, got := range list.Hosters {
		diffJSON(t, "hoster "+got.ID, hosterFigures(got), want[got.ID])
	}
	// The slowest first; hosters with no removal time last.
	for i := 1; i < len(list.Hosters); i++ {
		a, b := list.Hosters[i-1].P90RemovalSeconds, list.Hosters[i].P90RemovalSeconds
		if a == nil && b != nil || a != nil && b != nil && *a < *b {
			t.Errorf("hoster %d (%s) before %d (%s) is not in p90 desc order", i-1, list.Hosters[i-1].ID, i, list.Hosters[i].ID)
		}
	}
	var asc stats.HosterList
	api.get(t, "/v1/hosters?sort=cases&order=asc&limit=2&offset=1", "", &asc)
	byCases := slices.Collect(func(yield func(stats.Hoster) bool) {
		for _, h := range want {
			if !yield(h) {
				return
			}
		}
	})
	slices.SortFunc(byCases, func(a, b stats.Hoster) int {
		if a.Cases != b.Cases {
			return a.Cases - b.Cases
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(asc.Hosters) != 2 || asc.Hosters[0].ID != byCases[1].ID || asc.Hosters[1].ID != byCases[2].ID {
		t.Errorf("page 2 of cases asc: %v, want %s, %s", ids(asc.Hosters), byCases[1].ID, byCases[2].ID)
	}

	var one stats.Hoster
	if code, body := api.get(t, "/v1/hosters/bigcloud.com", "", &one); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	diffJSON(t, "bigcloud.com", hosterFigures(one), want["bigcloud.com"])
	if !reflect.DeepEqual(one.ASNs, []uint32{64502, 64503}) || !reflect.DeepEqual(one.Networks, []string{"BIG-DE"}) ||
		!slices.Contains(one.Contacts, "abuse@noc.bigcloud.com") {
		t.Errorf("bigcloud.com seen with ASNs %v networks %v contacts %v", one.ASNs, one.Networks, one.Contacts)
	}
	if one.BouncedContacts > 0 && !reflect.DeepEqual(one.BouncedAddresses, []string{"abuse@old-bigcloud.com"}) {
		t.Errorf("bounced %d: %v", one.BouncedContacts, one.BouncedAddresses)
	}
	// A hoster's token lists itself, over the cases told to it, and no
	// other hoster.
	var own stats.HosterList
	if code, body := api.getAs(t, "stats-hoster-domain", "/v1/hosters", "", &own); code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var told []truth
	for _, tr := range truths {
		if slices.Contains(tr.noticedTo, "noc.bigcloud.com") && tr.hoster == "bigcloud.com" {
			told = append(told, tr)
		}
	}
	if len(own.Hosters) != 1 || own.Hosters[0].ID != "bigcloud.com" {
		t.Fatalf("a hoster's token lists %v, want itself", ids(own.Hosters))
	}
	diffJSON(t, "bigcloud.com as itself", hosterFigures(own.Hosters[0]), naiveHosters(told, now)["bigcloud.com"])
	if code, _ := api.getAs(t, "stats-hoster-domain", "/v1/hosters/nl-hoster.nl", "", nil); code != http.StatusNotFound {
		t.Errorf("another hoster to a hoster's token: status %d, want 404", code)
	}
	for path, code := range map[string]int{
		"/v1/hosters/nobody.example": http.StatusNotFound, "/v1/hosters?sort=speed": http.StatusBadRequest,
		"/v1/hosters?order=up": http.StatusBadRequest, "/v1/stats?route=carrier-pigeon": http.StatusBadRequest,
		"/v1/stats?from=yesterday": http.StatusBadRequest, "/v1/stats?from=2026-01-02&to=2026-01-01": http.StatusBadRequest,
		"/v1/hosters?limit=0": http.StatusBadRequest,
	} {
		if got, body := api.get(t, path, "", nil); got != code {
			t.Errorf("%s: status %d, want %d (%s)", path, got, code, body)
		}
	}
}

func ids(hs []stats.Hoster) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func TestStatsAsCSV(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	h := stats.NewURLHasher([]byte("0123456789abcdef0123456789abcdef"))
	cases, truths := seedCases(rand.New(rand.NewPCG(13, 3)), 120, now, h)
	api := startStatsAPI(t, now, h, cases)
	want := naiveStats(truths, naiveFilter{}, now)

	code, body := api.get(t, "/v1/stats", "text/csv", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	rows := readCSV(t, body)
	metrics := map[string]string{}
	for _, r := range rows[1:] {
		metrics[r[0]] = r[1]
	}
	for k, v := range map[string]string{
		"cases": num(want.Cases), "open": num(want.Open), "state.closed": num(want.ByState["closed"]),
		"route.partner": num(want.ByRoute["partner"]), "hosting.domestic": num(want.Hosting.Domestic),
		"to_removal.p90_seconds": float(want.ToRemoval.P90), "removed_within.24h.of": num(want.RemovedWithin[2].Of),
		"repeated_urls": num(want.RepeatedURLs), "reminders": num(want.Reminders),
	} {
		if metrics[k] != v {
			t.Errorf("csv %s = %q, want %q", k, metrics[k], v)
		}
	}
	// JSON stays the answer for a client that prefers it, or says nothing.
	for _, accept := range []string{"", "*/*", "application/json, text/csv;q=0.5"} {
		if _, body := api.get(t, "/v1/stats", accept, nil); !json.Valid(body) {
			t.Errorf("Accept %q: not JSON", accept)
		}
	}
	_, body = api.get(t, "/v1/hosters?format=csv", "", nil)
	hrows := readCSV(t, body)
	if hrows[0][0] != "id" || len(hrows) != len(naiveHosters(truths, now))+1 {
		t.Errorf("hosters csv: header %v, %d rows", hrows[0], len(hrows))
	}
	_, body = api.get(t, "/v1/cases?limit=10", "text/csv", nil)
	crows := readCSV(t, body)
	if len(crows) != 11 || crows[0][0] != "id" || !store.ValidCaseID(crows[1][0]) {
		t.Errorf("cases csv: %d rows, first %v", len(crows), crows[min(1, len(crows)-1)])
	}
}

func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	return rows
}

func TestCSVDefusesFormulas(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	if err := writeCSV(rec, "x", [][]string{{"a", "b"}, {"=HYPERLINK(\"x\")", "+1"}, {"-2", "@SUM(A1)"}, {"plain", ""}}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, rec.Body.Bytes())
	want := [][]string{{"a", "b"}, {"'=HYPERLINK(\"x\")", "'+1"}, {"'-2", "'@SUM(A1)"}, {"plain", ""}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
}

// A start from the snapshot answers at once and, once it has caught up
// with what changed while it was down, gives the figures a whole load of
// the bucket gives.
func TestStatsResumeFromSnapshot(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	h := stats.NewURLHasher([]byte("0123456789abcdef0123456789abcdef"))
	cases, _ := seedCases(rand.New(rand.NewPCG(14, 4)), 300, now, h)
	api := startStatsAPI(t, now, h, cases)
	path := filepath.Join(t.TempDir(), "stats-snapshot")
	opts := stats.Options{HotlineCountry: "NL", Hasher: h, Now: func() time.Time { return now }, SnapshotPath: path, SnapshotEvery: time.Hour}
	run := func(a *stats.Aggregate) func() {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = a.Run(ctx)
		}()
		return func() { cancel(); <-done }
	}
	first := stats.New(api.st, opts)
	stop := run(first)
	waitFor(t, "the first load", func() bool { return first.Size() == len(cases) })
	stop()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no snapshot after the stop: %v", err)
	}

	// While it is down: a case closes, another is reported.
	if _, err := api.st.Update(t.Context(), cases[7].ID, func(c *takedown.Case) ([]takedown.Event, error) {
		c.State = takedown.StateClosed
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	more, _ := seedCases(rand.New(rand.NewPCG(15, 5)), 1, now, h, 100000)
	seedStore(t, api.st, more)

	resumed := stats.New(api.st, opts)
	defer run(resumed)()
	waitFor(t, "the resumed statistics", func() bool { return resumed.Size() == len(cases)+1 })
	if resumed.StartedFrom() == 0 {
		t.Error("the second start loaded the whole bucket, not the snapshot")
	}
	whole := stats.New(api.st, stats.Options{HotlineCountry: "NL", Hasher: h, Now: func() time.Time { return now }})
	defer run(whole)()
	waitFor(t, "a whole load", func() bool { return whole.Size() == len(cases)+1 })
	for _, f := range []stats.Filter{{}, {Route: "hoster"}, {Audiences: []string{takedown.AudienceDomain("bigcloud.com")}}} {
		got, err := resumed.Stats(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := whole.Stats(f)
		if err != nil {
			t.Fatal(err)
		}
		diffJSON(t, "resumed vs whole", got, want)
	}
}
