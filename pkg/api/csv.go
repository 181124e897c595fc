package api

import (
	"encoding/csv"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/stats"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// wantsCSV reports whether the client asked for CSV: ?format=csv, or an
// Accept header that ranks text/csv above application/json (absent, or
// */*, means JSON).
func wantsCSV(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return strings.EqualFold(f, "csv")
	}
	csvQ, jsonQ := -1.0, -1.0
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/csv":
			csvQ = max(csvQ, q)
		case "application/json", "*/*", "application/*":
			jsonQ = max(jsonQ, q)
		}
	}
	return csvQ > 0 && csvQ > jsonQ
}

// writeCSV writes rows (the first is the header) as an attachment named
// after what it holds. A cell that a spreadsheet would run as a formula
// (starting with = + - @, a tab or a carriage return) is prefixed with a
// quote, so an exported hoster name or reason cannot execute anything.
func writeCSV(w http.ResponseWriter, name string, rows [][]string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	for _, row := range rows {
		for i, cell := range row {
			row[i] = defuse(cell)
		}
		if err := cw.Write(row); err != nil {
			return nil // the client went away; the status is sent
		}
	}
	cw.Flush()
	return nil
}

func defuse(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

func num(n int) string { return strconv.Itoa(n) }

func float(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// statsRows flattens the figures into metric,value rows, in a fixed order.
func statsRows(s stats.Stats) [][]string {
	rows := [][]string{{"metric", "value"}, {"generated_at", stamp(s.GeneratedAt)}, {"cases", num(s.Cases)}, {"open", num(s.Open)}}
	add := func(k, v string) { rows = append(rows, []string{k, v}) }
	for _, k := range slices.Sorted(maps.Keys(s.ByState)) {
		add("state."+k, num(s.ByState[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(s.ByRoute)) {
		add("route."+k, num(s.ByRoute[k]))
	}
	add("hosting.known", num(s.Hosting.Known))
	add("hosting.domestic", num(s.Hosting.Domestic))
	add("hosting.domestic_share", float(s.Hosting.DomesticShare))
	for _, k := range slices.Sorted(maps.Keys(s.Hosting.ByCountry)) {
		add("country."+k, num(s.Hosting.ByCountry[k]))
	}
	for _, d := range []struct {
		name string
		d    stats.Durations
	}{{"to_first_notice", s.ToFirstNotice}, {"to_removal", s.ToRemoval}, {"notice_to_removal", s.NoticeToRemoval}} {
		add(d.name+".count", num(d.d.Count))
		add(d.name+".p50_seconds", float(d.d.P50))
		add(d.name+".p90_seconds", float(d.d.P90))
		add(d.name+".p99_seconds", float(d.d.P99))
	}
	for _, w := range s.RemovedWithin {
		add("removed_within."+w.Window+".removed", num(w.Removed))
		add("removed_within."+w.Window+".of", num(w.Of))
		add("removed_within."+w.Window+".share", float(w.Share))
	}
	for _, kv := range []struct {
		k string
		v int
	}{
		{"pending", s.Pending}, {"reappearances", s.Reappearances}, {"cases_reappeared", s.CasesReappeared},
		{"distinct_urls", s.DistinctURLs}, {"repeated_urls", s.RepeatedURLs}, {"reminders", s.Reminders},
		{"escalations", s.Escalations}, {"failed_notices", s.FailedNotices}, {"anonymised", s.Anonymised},
	} {
		add(kv.k, num(kv.v))
	}
	return rows
}

// hosterRows is one row per hoster; lists are joined with spaces.
func hosterRows(hs []stats.Hoster) [][]string {
	rows := [][]string{{
		"id", "cases", "open", "removed", "p50_removal_seconds", "p90_removal_seconds", "p99_removal_seconds",
		"removed_within_24h_share", "reminders", "escalations", "reappearances", "failed_notices", "bounced_contacts",
		"asns", "networks", "contacts",
	}}
	for _, h := range hs {
		asns := make([]string, len(h.ASNs))
		for i, n := range h.ASNs {
			asns[i] = strconv.FormatUint(uint64(n), 10)
		}
		rows = append(rows, []string{
			h.ID, num(h.Cases), num(h.Open), num(h.Removed), float(h.P50RemovalSeconds), float(h.P90RemovalSeconds),
			float(h.NoticeToRemoval.P99), float(h.RemovedWithin24h.Share), num(h.Reminders), num(h.Escalations),
			num(h.Reappearances), num(h.FailedNotices), num(h.BouncedContacts),
			strings.Join(asns, " "), strings.Join(h.Networks, " "), strings.Join(h.Contacts, " "),
		})
	}
	return rows
}

// caseRows is one row per case, with the fields a list shows; the URL is
// whatever the case as served carries.
func caseRows(cases []takedown.Case) [][]string {
	rows := [][]string{{
		"id", "state", "received_at", "confirmed_at", "url", "host", "country", "route", "partner", "hoster",
		"first_notice_at", "removed_at", "reminders", "escalations", "reopened", "reports", "classification", "priority",
	}}
	for i := range cases {
		c := &cases[i]
		var country, route, partner string
		if c.Enrichment != nil {
			country = c.Enrichment.HostingCountry()
		}
		if c.Routing != nil {
			route, partner = c.Routing.Kind, c.Routing.Partner
			if country == "" {
				country = c.Routing.Country
			}
		}
		cf := stats.FiguresOf(c)
		rows = append(rows, []string{
			c.ID, string(c.State), stamp(c.ReceivedAt), stamp(c.FirstConfirmedAt()), c.URL, c.Host, country, route, partner,
			stats.HosterKey(c), stamp(cf.FirstNotice), stamp(cf.Removed), num(cf.Reminders), num(cf.Escalations), num(cf.Reopened),
			num(c.ReportCount), string(c.Classification), string(c.Priority),
		})
	}
	return rows
}
