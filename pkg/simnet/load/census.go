package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// census is what the daemon's API says of every case at the end of a run:
// the truth the invariants are checked against.
type census struct {
	cases       int
	states      map[string]int
	lost        int // acked reports in no case
	doubledRep  int // reports in more than one case
	doubledCase int // URLs with more than one open case
	stuck       map[string]int
	truncated   int // cases listing fewer reports than they counted
}

// caseLite is the part of a case the census reads.
type caseLite struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	State   string    `json:"state"`
	Updated time.Time `json:"updated_at"`
	Reports []struct {
		ReportID string `json:"report_id"`
	} `json:"reports"`
	ReportCount int `json:"report_count"`
}

// transient are the states a case passes through on its way to a notice;
// a case that sits in one of them longer than the bound is stuck.
var transient = map[string]bool{"received": true, "enriched": true, "routed": true}

// censusStates are the states the census lists, one after the other, in
// the order cases flow through them: a case that moves on while the
// census runs is met again in a later list (and counted once, by id)
// rather than missed. A list of one open state comes from the daemon's
// case index, where a list of every case would read every key of the
// bucket for each page: at a million cases, a page per second.
var censusStates = []string{"received", "unresolvable", "enriched", "routed", "review", "not_actionable", "noticed", "forwarded", "removed", "closed"}

// takeCensus pages through GET /v1/cases (1,000 a page), state by state,
// and checks every case against what the run published and what the
// world did.
func takeCensus(ctx context.Context, api, token string, st *stats, stuckAfter time.Duration, now time.Time) (census, error) {
	cs := census{states: map[string]int{}, stuck: map[string]int{}}
	st.mu.Lock()
	nReports := len(st.reportURL)
	st.mu.Unlock()
	seen := make([]uint8, nReports)
	open := map[int]uint8{}
	counted := map[string]struct{}{}
	c := &http.Client{Timeout: 5 * time.Minute}
	for _, state := range censusStates {
		if err := censusOf(ctx, c, api, token, state, st, stuckAfter, now, &cs, seen, open, counted); err != nil {
			return cs, err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, s := range seen {
		switch {
		case s == 0 && st.acked[i]:
			cs.lost++
		case s > 1:
			cs.doubledRep++
		}
	}
	return cs, nil
}

// casePage is one page of GET /v1/cases.
type casePage struct {
	Cases []caseLite `json:"cases"`
	Next  string     `json:"next_cursor"`
}

// censusPage reads one page. A daemon still busy with a burst may not
// answer a page of 1,000 cases within its API write timeout; the page is
// then asked again, a smaller one each time, before the census gives up.
func censusPage(ctx context.Context, c *http.Client, api, token string, q url.Values) (casePage, error) {
	var err error
	for _, limit := range []string{"1000", "250", "50", "10"} {
		q.Set("limit", limit)
		var page casePage
		if page, err = getPage(ctx, c, api, token, q); err == nil || ctx.Err() != nil {
			return page, err
		}
	}
	return casePage{}, err
}

func getPage(ctx context.Context, c *http.Client, api, token string, q url.Values) (casePage, error) {
	var page casePage
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/v1/cases?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return page, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return page, fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return page, fmt.Errorf("decode: %w", err)
	}
	return page, nil
}

// censusOf adds the cases in one state to the census.
func censusOf(ctx context.Context, c *http.Client, api, token, state string, st *stats, stuckAfter time.Duration, now time.Time,
	cs *census, seen []uint8, open map[int]uint8, counted map[string]struct{}) error {
	for cursor := ""; ; {
		q := url.Values{"state": {state}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page, err := censusPage(ctx, c, api, token, q)
		if err != nil {
			return fmt.Errorf("list %s cases: %w", state, err)
		}
		for _, k := range page.Cases {
			n, ours := st.urlIndex(k.URL)
			if !ours {
				continue
			}
			if _, again := counted[k.ID]; again {
				continue
			}
			counted[k.ID] = struct{}{}
			cs.cases++
			cs.states[k.State]++
			if k.State != "closed" {
				open[n]++
				if open[n] == 2 {
					cs.doubledCase++
				}
			}
			if len(k.Reports) < k.ReportCount {
				cs.truncated++
			}
			for _, r := range k.Reports {
				if i, ok := st.reportIndex(r.ReportID); ok && seen[i] < 255 {
					seen[i]++
				}
			}
			switch {
			case transient[k.State] && now.Sub(k.Updated) > stuckAfter:
				cs.stuck[k.State]++
			case k.State == "noticed" || k.State == "forwarded" || k.State == "routed":
				if gone, ok := st.w.RemovedAtN(st.host(n), n); ok && now.Sub(gone) > stuckAfter {
					cs.stuck[k.State+" (removed by the hoster)"]++
				}
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}
