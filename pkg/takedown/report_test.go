package takedown

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const validReport = `{"report_id":"r-1","url":"http://example.nl/a.jpg","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`

// testNow is the clock of every decoder test: confirmed_at is judged by it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestDecodeReportValid(t *testing.T) {
	t.Parallel()
	in := `{"report_id":"r-1","url":"https://example.nl/a.jpg","confirmed_at":"2026-11-26T10:00:00.123+01:00",
	"classification":"B2","media_type":"video","priority":"high","hashes":{"sha256":"` + strings.Repeat("AB", 32) + `"},
	"analyst":"a7","source":"public","partner_ref":"P-9","future_field":{"x":1}}`
	r, err := DecodeReport([]byte(in), 0, testNow)
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	if r.Priority != PriorityHigh || r.Classification != ClassB2 || r.MediaType != "video" {
		t.Errorf("got priority %q class %q media %q", r.Priority, r.Classification, r.MediaType)
	}
	if r.Hashes.SHA256 != strings.Repeat("ab", 32) {
		t.Errorf("sha256 = %q, want lowercased", r.Hashes.SHA256)
	}
	if string(r.Extra["future_field"]) != `{"x":1}` {
		t.Errorf("unknown field not kept: %v", r.Extra)
	}
	if r.ConfirmedAt.UnixMilli()%1000 != 123 {
		t.Errorf("confirmed_at lost precision: %v", r.ConfirmedAt)
	}
	d, err := DecodeReport([]byte(validReport), 0, testNow)
	if err != nil || d.Priority != PriorityNormal {
		t.Errorf("default priority = %q (err %v), want normal", d.Priority, err)
	}
}

// TestDecodeReportAcceptsAtTheBounds shows that each rule leaves room for
// what an honest analyst tool sends.
func TestDecodeReportAcceptsAtTheBounds(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, MaxReportDepth-1) + `1` + strings.Repeat(`}`, MaxReportDepth-1)
	tests := []struct{ name, in string }{
		{"confirmed almost a day ahead", withField(validReport, "confirmed_at", `"2026-11-28T11:59:59Z"`)},
		{"confirmed in 1990", withField(validReport, "confirmed_at", `"1990-01-01T00:00:00Z"`)},
		{"port 1", withField(validReport, "url", `"http://example.nl:1/a"`)},
		{"port 65535", withField(validReport, "url", `"https://example.nl:65535/a"`)},
		{"non-ASCII text", withField(validReport, "analyst", `"Zoë 分析"`)},
		{"escaped non-ASCII", withField(validReport, "source", `"partner \u00e9 \ud83d\ude00"`)},
		{"percent-encoded bytes in the url", withField(validReport, "url", `"http://example.nl/%00%ff%0a"`)},
		{"unknown field nested to the bound", withField(validReport, "future", deep)},
		{"unknown fields of every kind", withField(validReport, "future", `{"list":[1,"two",null,true,{"x":[]}],"n":1.5e3}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := DecodeReport([]byte(tc.in), 0, testNow); err != nil {
				t.Errorf("DecodeReport(%s): %v", tc.in, err)
			}
		})
	}
}

// TestDecodeReportKeepsUnknownFields: the contract lets the analyst tool
// add fields; they are kept verbatim, never rejected.
func TestDecodeReportKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	in := withField(withField(validReport, "ticket", `"T-7"`), "labels", `{"a":[1,2],"b":{"c":null}}`)
	r, err := DecodeReport([]byte(in), 0, testNow)
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	if len(r.Extra) != 2 || string(r.Extra["ticket"]) != `"T-7"` || string(r.Extra["labels"]) != `{"a":[1,2],"b":{"c":null}}` {
		t.Errorf("Extra = %q, want ticket and labels verbatim", r.Extra)
	}
}

func TestDecodeReportRejects(t *testing.T) {
	t.Parallel()
	tooDeep := strings.Repeat(`[`, MaxReportDepth) + strings.Repeat(`]`, MaxReportDepth)
	tests := []struct {
		name, in, want string
		max            int
	}{
		{"not json", `hello`, "not a JSON object: invalid character 'h'", 0},
		{"json array", `[1,2]`, "not a JSON object", 0},
		{"empty message", ``, "not a JSON object: the message is empty", 0},
		{"unclosed object", `{"report_id":"r-1"`, "not a JSON object", 0},
		{"trailing data", validReport + `{}`, "trailing data", 0},
		{"trailing garbage", validReport + `x`, "trailing data", 0},
		{"too large", validReport, "over the limit", 10},
		{"missing report_id", `{"url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "report_id: missing", 0},
		{"missing url", `{"report_id":"1","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "url: missing", 0},
		{"missing confirmed_at", `{"report_id":"1","url":"http://e.nl/","classification":"A1"}`, "confirmed_at: missing", 0},
		{"missing classification", `{"report_id":"1","url":"http://e.nl/","confirmed_at":"2026-11-26T10:00:00Z"}`, "classification: missing", 0},
		{"empty report_id", withField(validReport, "report_id", `"  "`), "report_id: empty", 0},
		{"long report_id", withField(validReport, "report_id", `"`+strings.Repeat("x", 257)+`"`), "report_id: longer than 256", 0},
		{"relative url", withField(validReport, "url", `"/a.jpg"`), "not an absolute URL", 0},
		{"ftp url", withField(validReport, "url", `"ftp://e.nl/a"`), `scheme "ftp" is not http or https`, 0},
		{"opaque url", withField(validReport, "url", `"http:e.nl/a"`), "not a hierarchical URL", 0},
		{"no host", withField(validReport, "url", `"http:///a"`), "url: no host", 0},
		{"bad time", withField(validReport, "confirmed_at", `"26-11-2026"`), "not an RFC 3339 time", 0},
		{"unknown classification", withField(validReport, "classification", `"C9"`), "unknown classification", 0},
		{"unknown media type", withField(validReport, "media_type", `"photo"`), "unknown media type", 0},
		{"short md5", withField(validReport, "hashes", `{"md5":"abc"}`), "hashes.md5: is 3 hex digits, want 32", 0},
		{"non-hex sha1", withField(validReport, "hashes", `{"sha1":"`+strings.Repeat("zz", 20)+`"}`), "hashes.sha1: not hexadecimal", 0},
		{"unknown hash", withField(validReport, "hashes", `{"crc":"00"}`), "hashes.crc: unknown hash", 0},
		{"hashes not an object", withField(validReport, "hashes", `"abc"`), "hashes: must be an object", 0},
		{"wrong type", withField(validReport, "report_id", `7`), "report_id: must be a string", 0},
		{"bad priority", withField(validReport, "priority", `"urgent"`), "unknown priority", 0},

		// confirmed_at more than a day ahead of the clock, or before 1990.
		{"confirmed a day and a second ahead", withField(validReport, "confirmed_at", `"2026-11-28T12:00:01Z"`), "confirmed_at: 2026-11-28T12:00:01Z is more than a day after now (2026-11-27T12:00:00Z)", 0},
		{"confirmed in 9999", withField(validReport, "confirmed_at", `"9999-12-31T23:59:59Z"`), "confirmed_at: 9999-12-31T23:59:59Z is more than a day after now", 0},
		{"confirmed in year 1", withField(validReport, "confirmed_at", `"0001-01-01T00:00:00Z"`), "confirmed_at: 0001-01-01T00:00:00Z is before 1990", 0},
		{"confirmed in 1989", withField(validReport, "confirmed_at", `"1989-12-31T23:59:59+00:00"`), "is before 1990", 0},

		// Ports outside 1-65535.
		{"port 99999", withField(validReport, "url", `"http://e.nl:99999/a"`), "url: port 99999 is outside 1-65535", 0},
		{"port 0", withField(validReport, "url", `"http://e.nl:0/a"`), "url: port 0 is outside 1-65535", 0},
		{"port 65536", withField(validReport, "url", `"https://e.nl:65536/"`), "url: port 65536 is outside 1-65535", 0},
		{"port beyond int", withField(validReport, "url", `"https://e.nl:99999999999999999999/"`), "is outside 1-65535", 0},

		// Control characters, in every string field and the URL.
		{"NUL in report_id", withField(validReport, "report_id", `"r-\u0000"`), "report_id: contains control character U+0000 at byte 2", 0},
		{"newline in report_id", withField(validReport, "report_id", `"r-1\n"`), "report_id: contains control character U+000A", 0},
		{"tab in url", withField(validReport, "url", `"http://e.nl/a\tb"`), "url: contains control character U+0009", 0},
		{"C1 control in url host", withField(validReport, "url", `"http://e\u0085.nl/"`), "url: contains control character U+0085", 0},
		{"DEL in url", withField(validReport, "url", `"http://e.nl/\u007f"`), "url: contains control character U+007F", 0},
		{"escape in analyst", withField(validReport, "analyst", `"a\u001b[31m"`), "analyst: contains control character U+001B", 0},
		{"bell in source", withField(validReport, "source", `"p\u0007"`), "source: contains control character U+0007", 0},
		{"CR in partner_ref", withField(validReport, "partner_ref", `"P-1\r"`), "partner_ref: contains control character U+000D", 0},
		{"NUL in classification", withField(validReport, "classification", `"A1\u0000"`), "classification: contains control character", 0},
		{"NUL in a hash", withField(validReport, "hashes", `{"md5":"\u0000"}`), "hashes.md5: contains control character", 0},
		{"NUL in an unknown field", withField(validReport, "future", `{"list":["ok","\u0000"]}`), "future.list[1]: contains control character", 0},
		{"NUL in a field name", withField(validReport, `fu\u0000ture`, `1`), `"fu\x00ture": name contains control character U+0000`, 0},
		{"raw NUL in a string", withField(validReport, "analyst", "\"a\x00\""), "not a JSON object: invalid character '\\x00' in string literal (at byte", 0},

		// Text that is not UTF-8: rejected, not silently replaced.
		{"invalid UTF-8 in url", withField(validReport, "url", "\"http://e.nl/\xff\""), "not valid UTF-8: byte 0xff at offset", 0},
		{"truncated UTF-8 sequence", withField(validReport, "analyst", "\"\xc3\""), "not valid UTF-8: byte 0xc3", 0},
		{"overlong encoding", withField(validReport, "analyst", "\"\xc0\xaf\""), "not valid UTF-8", 0},
		{"lone surrogate escape", withField(validReport, "analyst", `"\ud800"`), "analyst: contains U+FFFD", 0},
		{"replacement character", withField(validReport, "url", "\"http://e.nl/\uFFFD\""), "url: contains U+FFFD", 0},

		// Credentials in the URL.
		{"user and password in url", withField(validReport, "url", `"http://user:pass@e.nl/a"`), "url: contains credentials", 0},
		{"user in url", withField(validReport, "url", `"https://user@e.nl/a"`), "url: contains credentials", 0},
		{"empty user info in url", withField(validReport, "url", `"https://@e.nl/a"`), "url: contains credentials", 0},

		// Nesting deeper than the bound.
		{"nested too deep", withField(validReport, "future", tooDeep), "future: nested deeper than 16 levels", 0},
		{"nested far too deep", withField(validReport, "future", strings.Repeat(`{"a":`, 20000)+`1`+strings.Repeat(`}`, 20000)), "nested deeper than 16 levels", 1 << 20},

		// One key twice: which one holds would depend on the reader.
		{"repeated url", `{"report_id":"1","url":"http://a.nl/","url":"http://b.nl/","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`, "url: appears twice", 0},
		{"repeated hash", withField(validReport, "hashes", `{"md5":"`+strings.Repeat("0", 32)+`","md5":"`+strings.Repeat("1", 32)+`"}`), "hashes.md5: appears twice", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeReport([]byte(tc.in), tc.max, testNow)
			if err == nil {
				t.Fatalf("DecodeReport accepted %s", tc.in)
			}
			if _, ok := err.(ReportErrors); !ok {
				t.Errorf("error of type %T, want ReportErrors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// withField returns the JSON object report with field set to the raw JSON
// value (added when the report lacks it).
func withField(report, field, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(report), &m); err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteString("{")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != field {
			fmt.Fprintf(&b, "%q:%s,", k, m[k])
		}
	}
	fmt.Fprintf(&b, "\"%s\":%s}", field, value)
	return b.String()
}

func TestDecodeReportListsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := DecodeReport([]byte(`{"url":"ftp://x","classification":"Z","analyst":"\u0000"}`), 0, testNow)
	errs, ok := err.(ReportErrors)
	if !ok {
		t.Fatalf("error is %T, want ReportErrors", err)
	}
	if len(errs) != 5 { // analyst, report_id, url, confirmed_at, classification
		t.Errorf("got %d problems (%v), want 5", len(errs), err)
	}
}

// TestDecodeReportNamesAControlCharacterOnce: a field the walk flagged is
// not reported again by its own checks.
func TestDecodeReportNamesAControlCharacterOnce(t *testing.T) {
	t.Parallel()
	_, err := DecodeReport([]byte(withField(validReport, "url", `"http://e.nl/\u0000"`)), 0, testNow)
	errs, ok := err.(ReportErrors)
	if !ok || len(errs) != 1 {
		t.Errorf("got %v, want one problem", err)
	}
}

func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(validReport))
	f.Add([]byte(`{"report_id":"x","url":"http://a/","confirmed_at":"2026-01-01T00:00:00Z","classification":"baseline","hashes":{"md5":"00000000000000000000000000000000"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(withField(validReport, "future", `{"a":[1,{"b":"\u00e9"}]}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if cleanReportJSON(data) {
			if sc := walkReport(data); sc.fatal != nil || len(sc.problems) > 0 {
				t.Fatalf("clean by the quick check, but the walk finds %v %v", sc.fatal, sc.problems)
			}
		}
		r, err := DecodeReport(data, 0, testNow)
		if err != nil {
			if _, ok := err.(ReportErrors); !ok {
				t.Fatalf("error of type %T, want ReportErrors", err)
			}
			return
		}
		if r.ReportID == "" || r.URL == "" || r.ConfirmedAt.IsZero() || r.Classification == "" {
			t.Fatalf("accepted report missing a required field: %+v", r)
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted invalid UTF-8: %q", data)
		}
		for _, s := range []string{r.ReportID, r.URL, r.Analyst, r.Source, r.PartnerRef} {
			if badString(s) != "" {
				t.Fatalf("accepted %q: %s", s, badString(s))
			}
		}
		if r.ConfirmedAt.Year() < EarliestConfirmedYear || r.ConfirmedAt.After(testNow.Add(MaxConfirmedAhead)) {
			t.Fatalf("accepted confirmed_at %v", r.ConfirmedAt)
		}
		if strings.Contains(r.URL, "@") {
			if u, err := url.Parse(r.URL); err != nil || u.User != nil {
				t.Fatalf("accepted url with user info: %q", r.URL)
			}
		}
	})
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("state %q not in the table", s)
		}
		for _, next := range s.Transitions() {
			if !next.Valid() {
				t.Errorf("%s -> %q: target not a state", s, next)
			}
		}
	}
	c := Case{State: StateClosed}
	if err := c.MoveTo(StateReceived, "", c.UpdatedAt); err == nil {
		t.Error("closed case moved back to received")
	}
	c = Case{State: StateReceived}
	if err := c.MoveTo(StateEnriched, "ok", c.UpdatedAt); err != nil || c.State != StateEnriched {
		t.Errorf("received -> enriched: %v (state %s)", err, c.State)
	}
}

// The quick check passes only what the walk has nothing to say about;
// everything else goes to the walk, which names the problem.
func TestCleanReportJSON(t *testing.T) {
	t.Parallel()
	nested := func(n int) string { return strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) }
	tests := []struct {
		name, data string
		want       bool
	}{
		{"a report", validReport, true},
		{"nested unknown fields", withField(validReport, "future", `{"a":[1,{"b":"c","d":[]}],"e":{"b":"c"}}`), true},
		{"same key in two objects", `{"a":{"k":1},"b":{"k":2},"k":3}`, true},
		{"empty", ``, false},
		{"not an object", `["a"]`, false},
		{"a string", `"a"`, false},
		{"trailing data", validReport + `{}`, false},
		{"repeated key", `{"a":1,"b":2,"a":3}`, false},
		{"repeated nested key", `{"h":{"md5":"x","md5":"y"}}`, false},
		{"an escape", `{"a":"\u00e9"}`, false},
		{"a control character", "{\"a\":\"x\u0085y\"}", false},
		{"delete", "{\"a\":\"x\u007fy\"}", false},
		{"replacement character", `{"a":"x` + "\uFFFD" + `"}`, false},
		{"in a key", "{\"a\u0085\":1}", false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
		{"nested below the bound", nested(MaxReportDepth - 1), true},
		{"nested at the bound", nested(MaxReportDepth), false},
		{"nested past the bound", nested(MaxReportDepth + 1), false},
	}
	for _, tt := range tests {
		if got := cleanReportJSON([]byte(tt.data)); got != tt.want {
			t.Errorf("%s: cleanReportJSON = %v, want %v", tt.name, got, tt.want)
		}
		if sc := walkReport([]byte(tt.data)); tt.want && (sc.fatal != nil || len(sc.problems) > 0) {
			t.Errorf("%s: clean, but the walk finds %v %v", tt.name, sc.fatal, sc.problems)
		}
	}
}
