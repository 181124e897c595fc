package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/intake"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

const testToken = "test-token-admin"

// waitBound bounds a test's wait for a condition (a case's state, a
// message at the relay, a metric). It is not a speed claim: the tests wait
// for the condition and go on as soon as it holds; the bound is only there
// so that a test that would wait forever fails. It is generous because CI
// runs on a busy 2-core machine beside other test suites, where a daemon's
// start-up and a few pipeline steps have taken tens of seconds.
const waitBound = 2 * time.Minute

// testConfig is a daemon on loopback with random ports in dir.
func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.NATS.Embedded.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.API.Tokens = []config.Token{
		{Name: "admin", Role: "admin", Token: config.Secret{Value: testToken}},
		{Name: "viewer", Role: "reader", Token: config.Secret{Value: "test-token-reader"}},
	}
	cfg.Intake.Backoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	cfg.Intake.AckWait = 2 * time.Second
	// Enrichment would ask the real DNS and RDAP: tests that want it turn
	// it on against the simulated internet (simnetEnrich in enrich_test.go).
	cfg.Enrich.Enabled = false
	return cfg
}

// daemon is a running App with two client connections to its NATS: nc
// and js with the daemon's own key (every permission, for settling and
// looking inside), and analyst with the analyst tool's, which publish
// sends reports through as the real tool does.
type daemon struct {
	t       testing.TB
	app     *App
	stop    context.CancelFunc
	done    chan error
	nc      *nats.Conn
	js      jetstream.JetStream
	analyst jetstream.JetStream
	anc     *nats.Conn // analyst's connection
	// natsURL and keyDir are where the daemon's NATS is and the data dir
	// that holds the seed files of its roles.
	natsURL, keyDir string
	// dead is set by tests that kill the daemon's NATS connection: its
	// stop then reports errors, which shutdown does not count.
	dead bool
}

func startDaemon(t testing.TB, cfg config.Config) *daemon {
	t.Helper()
	return startDaemonAt(t, cfg, nil)
}

// startDaemonAt is startDaemon with the daemon's clock (nil: time.Now).
func startDaemonAt(t testing.TB, cfg config.Config, now func() time.Time) *daemon {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(t.Context(), Options{Config: cfg, Log: log, Now: now})
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{t: t, app: a, stop: cancel, done: make(chan error, 1), natsURL: a.NATSURL(), keyDir: cfg.DataDir}
	go func() { d.done <- a.Run(ctx) }()
	if d.natsURL == "" { // a replica of another daemon's NATS, with its key
		d.natsURL, d.keyDir = cfg.NATS.URLs[0], filepath.Dir(cfg.NATS.NKeyFile)
	}
	d.nc = d.connect(broker.RoleDaemon)
	d.js, _ = jetstream.New(d.nc)
	d.anc = d.connect(broker.RoleAnalyst)
	d.analyst, _ = jetstream.New(d.anc)
	t.Cleanup(d.shutdown)
	return d
}

// connect is the one way tests reach the daemon's NATS: as role r, with
// the seed file the daemon created for it. The caller closes it.
func (d *daemon) connect(r broker.Role, extra ...nats.Option) *nats.Conn {
	d.t.Helper()
	opts, err := broker.ClientOptions(r, broker.SeedFile(d.keyDir, r))
	if err != nil {
		d.t.Fatalf("connect as %s: %v", r, err)
	}
	nc, err := nats.Connect(d.natsURL, append(opts, extra...)...)
	if err != nil {
		d.t.Fatalf("connect to daemon nats as %s: %v", r, err)
	}
	return nc
}

func (d *daemon) shutdown() {
	if d.stop == nil {
		return
	}
	d.nc.Close()
	d.anc.Close()
	d.stop()
	select {
	case err := <-d.done:
		if err != nil && !d.dead {
			d.t.Errorf("daemon stopped with error: %v", err)
		}
	case <-time.After(waitBound):
		d.t.Errorf("daemon did not stop within %s", waitBound)
	}
	d.stop = nil
}

func report(id, u string) map[string]any {
	return map[string]any{"report_id": id, "url": u, "confirmed_at": "2026-11-26T10:00:00Z", "classification": "A1"}
}

func (d *daemon) publish(v any, msgID string) {
	d.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	msg := nats.NewMsg("takedown.reports")
	msg.Data = b
	if msgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	if _, err := d.analyst.PublishMsg(d.t.Context(), msg); err != nil {
		d.t.Fatalf("publish report: %v", err)
	}
}

// settle waits until intake has acked everything published so far. A
// burst of thousands takes as long as the machine's load makes it, so the
// bound is on intake making no progress (its ack floor standing still)
// for waitBound, not on the whole.
//
// A look costs one request to the server (the consumer's info) until the
// consumer has nothing pending, and then one more (the stream's last
// sequence): a benchmark that settles measures the daemon, not its
// watcher.
func (d *daemon) settle() {
	d.t.Helper()
	ctx := d.t.Context()
	var (
		floor  uint64
		stream jetstream.Stream
		cons   jetstream.Consumer
	)
	deadline := time.Now().Add(waitBound)
	for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if stream == nil {
			if stream, err = d.js.Stream(ctx, "TAKEDOWN_REPORTS"); err != nil {
				continue
			}
		}
		if cons == nil {
			if cons, err = d.js.Consumer(ctx, "TAKEDOWN_REPORTS", intake.ConsumerName); err != nil {
				continue
			}
		}
		// Every message in the stream must be acked (or terminated, which
		// intake does only after the dead letter is stored).
		ci, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		if ci.AckFloor.Stream > floor {
			floor, deadline = ci.AckFloor.Stream, time.Now().Add(waitBound)
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			continue
		}
		if si, err := stream.Info(ctx); err == nil && ci.AckFloor.Stream >= si.State.LastSeq {
			return
		}
	}
	d.t.Fatalf("intake did not settle: no progress for %s (ack floor %d)", waitBound, floor)
}

func (d *daemon) get(path, token string, out any) int {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(d.t.Context(), http.MethodGet, "http://"+d.app.APIAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			d.t.Fatalf("decode %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func (d *daemon) caseByURL(u string) api.CaseView {
	d.t.Helper()
	var v api.CaseView
	if code := d.get("/v1/cases?url="+url.QueryEscape(u), testToken, &v); code != http.StatusOK {
		d.t.Fatalf("lookup by url: status %d", code)
	}
	return v
}

func TestReportBecomesCaseReadableThroughAPI(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	d.publish(report("r-1", "http://Bücher.example.nl:80/a.jpg"), "r-1")
	d.settle()

	// The lookup normalises the URL the same way intake did.
	v := d.caseByURL("http://xn--bcher-kva.example.nl/a.jpg")
	if v.Case.State != takedown.StateReceived && v.Case.State != takedown.StateEnriched {
		t.Errorf("state = %s", v.Case.State)
	}
	if v.Case.URL != "http://xn--bcher-kva.example.nl/a.jpg" || v.Case.Domain != "example.nl" {
		t.Errorf("case url %q domain %q", v.Case.URL, v.Case.Domain)
	}
	if len(v.Timeline) == 0 || v.Timeline[0].Type != takedown.EventReceived || v.Timeline[0].Actor != "intake" {
		t.Errorf("timeline = %+v, want a received event by intake first", v.Timeline)
	}
	var byID api.CaseView
	if code := d.get("/v1/cases/"+v.Case.ID, "test-token-reader", &byID); code != http.StatusOK || byID.Case.ID != v.Case.ID {
		t.Errorf("GET /v1/cases/%s: status %d, id %q", v.Case.ID, code, byID.Case.ID)
	}
	var list api.CaseList
	if code := d.get("/v1/cases?state="+string(v.Case.State), testToken, &list); code != http.StatusOK || len(list.Cases) != 1 {
		t.Errorf("list: status %d, %d cases", code, len(list.Cases))
	}
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/v1/cases", "", http.StatusUnauthorized},
		{"wrong token", "/v1/cases", "nope", http.StatusUnauthorized},
		{"reader lists cases", "/v1/cases", "test-token-reader", http.StatusOK},
		{"reader may not read dead letters", "/v1/dlq", "test-token-reader", http.StatusForbidden},
		{"admin reads dead letters", "/v1/dlq", testToken, http.StatusOK},
		{"unknown case", "/v1/cases/0000000000000000", testToken, http.StatusNotFound},
		{"malformed case id", "/v1/cases/..%2F", testToken, http.StatusNotFound},
		{"bad state filter", "/v1/cases?state=bogus", testToken, http.StatusBadRequest},
		{"bad since", "/v1/cases?since=yesterday", testToken, http.StatusBadRequest},
		{"health needs no token", "/healthz", "", http.StatusOK},
		{"ready needs no token", "/readyz", "", http.StatusOK},
	}
	for _, tc := range tests {
		if got := d.get(tc.path, tc.token, nil); got != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestDuplicatesJoinOneCase(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	u := "https://host.example.nl/x/1.jpg"
	d.publish(report("dup-1", u), "dup-1")
	d.publish(report("dup-1", u), "dup-1") // dropped by the stream's dedup window
	d.publish(report("dup-1", u), "")      // no header: caught by the report index
	d.settle()
	d.publish(report("dup-2", "HTTPS://HOST.example.nl:443/x/1.jpg"), "dup-2")
	d.settle()

	v := d.caseByURL(u)
	if v.Case.ReportCount != 2 || len(v.Case.Reports) != 2 {
		t.Fatalf("report count %d, reports %+v; want dup-1 and dup-2 once each", v.Case.ReportCount, v.Case.Reports)
	}
	if v.Case.Reports[0].ReportID != "dup-1" || v.Case.Reports[1].ReportID != "dup-2" {
		t.Errorf("reports = %+v", v.Case.Reports)
	}
	var joined int
	for _, ev := range v.Timeline {
		if ev.Type == takedown.EventReportJoined {
			joined++
		}
	}
	if joined != 1 {
		t.Errorf("%d report_joined events, want 1", joined)
	}
	var list api.CaseList
	d.get("/v1/cases", testToken, &list)
	if len(list.Cases) != 1 {
		t.Errorf("%d cases, want 1", len(list.Cases))
	}
}

func TestRejectionsGoToDeadLetters(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	cfg.Intake.MaxReportBytes = 2048
	d := startDaemon(t, cfg)
	base := func(mut func(m map[string]any)) map[string]any {
		m := report("rej", "http://example.nl/a")
		mut(m)
		return m
	}
	tests := []struct {
		name   string
		msg    any
		reason string
	}{
		{"not json", []byte("this is not json"), "not a JSON object"},
		{"missing report_id", base(func(m map[string]any) { delete(m, "report_id") }), "report_id: missing"},
		{"missing url", base(func(m map[string]any) { delete(m, "url") }), "url: missing"},
		{"relative url", base(func(m map[string]any) { m["url"] = "/a.jpg" }), "not an absolute URL"},
		{"not http", base(func(m map[string]any) { m["url"] = "ftp://example.nl/a" }), `scheme "ftp" is not http or https`},
		{"bad time", base(func(m map[string]any) { m["confirmed_at"] = "yesterday" }), "confirmed_at: not an RFC 3339 time"},
		{"unknown classification", base(func(m map[string]any) { m["classification"] = "Z9" }), "unknown classification"},
		{"short hash", base(func(m map[string]any) { m["hashes"] = map[string]string{"sha256": "abcd"} }), "hashes.sha256: is 4 hex digits, want 64"},
		{"non-hex hash", base(func(m map[string]any) { m["hashes"] = map[string]string{"md5": strings.Repeat("g", 32)} }), "hashes.md5: not hexadecimal"},
		{"too large", base(func(m map[string]any) { m["note"] = strings.Repeat("x", 4096) }), "over the limit of 2048"},
		// Issue 8: strict input.
		{"confirmed far ahead", base(func(m map[string]any) { m["confirmed_at"] = "9999-12-31T23:59:59Z" }), "confirmed_at: 9999-12-31T23:59:59Z is more than a day after now"},
		{"confirmed in year 1", base(func(m map[string]any) { m["confirmed_at"] = "0001-01-01T00:00:00Z" }), "confirmed_at: 0001-01-01T00:00:00Z is before 1990"},
		{"port out of range", base(func(m map[string]any) { m["url"] = "http://example.nl:99999/a" }), "url: port 99999 is outside 1-65535"},
		{"NUL in report_id", base(func(m map[string]any) { m["report_id"] = "rej\x00" }), "report_id: contains control character U+0000"},
		{"invalid UTF-8", []byte("{\"report_id\":\"rej\",\"url\":\"http://example.nl/\xff\",\"confirmed_at\":\"2026-11-26T10:00:00Z\",\"classification\":\"A1\"}"), "not valid UTF-8: byte 0xff"},
		{"credentials in url", base(func(m map[string]any) { m["url"] = "http://user:pass@example.nl/a" }), "url: contains credentials"},
		{"nested too deep", base(func(m map[string]any) { m["extra"] = nested(20) }), "extra: nested deeper than 16 levels"},
		{"host of only dots", base(func(m map[string]any) { m["url"] = "http://../" }), `url: url host ".." is not a valid host name`},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("rej-%d", i)
		if m, ok := tc.msg.(map[string]any); ok && m["report_id"] == "rej" {
			m["report_id"] = id // so that only the rule under test rejects it
		}
		d.publish(tc.msg, id)
	}
	d.settle()
	var out struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if code := d.get("/v1/dlq?limit=100", testToken, &out); code != http.StatusOK {
		t.Fatalf("GET /v1/dlq: %d", code)
	}
	if len(out.DeadLetters) != len(tests) {
		t.Fatalf("%d dead letters, want %d", len(out.DeadLetters), len(tests))
	}
	byMsgID := map[string]store.DeadLetter{}
	for _, dl := range out.DeadLetters {
		byMsgID[dl.Header.Get("Takedown-Original-Msg-Id")] = dl
	}
	for i, tc := range tests {
		dl, ok := byMsgID[fmt.Sprintf("rej-%d", i)]
		if !ok {
			t.Errorf("%s: no dead letter", tc.name)
			continue
		}
		if !strings.Contains(dl.Reason, tc.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", tc.name, dl.Reason, tc.reason)
		}
		want, _ := tc.msg.([]byte)
		if want == nil {
			want, _ = json.Marshal(tc.msg)
		}
		if string(dl.Data) != string(want) {
			t.Errorf("%s: payload not kept verbatim", tc.name)
		}
		if dl.OrigSubj != "takedown.reports" || dl.OrigSeq == 0 {
			t.Errorf("%s: origin %q seq %d", tc.name, dl.OrigSubj, dl.OrigSeq)
		}
	}
	var list api.CaseList
	d.get("/v1/cases", testToken, &list)
	if len(list.Cases) != 0 {
		t.Errorf("rejected reports opened %d cases", len(list.Cases))
	}
}

// nested is a JSON value n objects deep.
func nested(n int) any {
	var v any = 1
	for range n {
		v = map[string]any{"a": v}
	}
	return v
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := startDaemon(t, testConfig(dir))
	d.publish(report("keep-1", "http://keep.example.nl/1"), "keep-1")
	d.publish([]byte("garbage"), "keep-bad")
	d.settle()
	before := d.caseByURL("http://keep.example.nl/1")
	d.shutdown()

	d2 := startDaemon(t, testConfig(dir))
	after := d2.caseByURL("http://keep.example.nl/1")
	if after.Case.ID != before.Case.ID || len(after.Timeline) < len(before.Timeline) {
		t.Errorf("after restart: case %s with %d events, before: %s with %d", after.Case.ID, len(after.Timeline), before.Case.ID, len(before.Timeline))
	}
	var out struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	d2.get("/v1/dlq", testToken, &out)
	if len(out.DeadLetters) != 1 {
		t.Errorf("%d dead letters after restart, want 1", len(out.DeadLetters))
	}
	// Redelivery after restart must not double anything.
	d2.publish(report("keep-1", "http://keep.example.nl/1"), "")
	d2.settle()
	if v := d2.caseByURL("http://keep.example.nl/1"); v.Case.ReportCount != 1 {
		t.Errorf("report count %d after re-publish, want 1", v.Case.ReportCount)
	}
}
