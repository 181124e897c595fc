package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/ctl"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// ctlRun is one takedownctl invocation against the daemon.
type ctlRun struct {
	code           int
	stdout, stderr string
}

// ctl runs takedownctl in-process with the daemon's addresses and the
// admin token, an environment of its own and stdin.
func (d *daemon) ctl(env map[string]string, stdin string, args ...string) ctlRun {
	d.t.Helper()
	conn := []string{"-api", "http://" + d.app.APIAddr(), "-nats", d.natsURL}
	if _, ok := env[ctl.EnvNATSNKey]; !ok && !containsFlag(args, "-nats-nkey", "-nats-creds") {
		conn = append(conn, "-nats-nkey", broker.SeedFile(d.keyDir, broker.RoleCtl))
	}
	if _, ok := env["TAKEDOWN_TOKEN"]; !ok && !containsFlag(args, "-token", "-token-file", "-data") {
		conn = append(conn, "-token", testToken)
	}
	var out, errOut bytes.Buffer
	code := ctl.Run(d.t.Context(), append(conn, args...), ctl.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	return ctlRun{code: code, stdout: out.String(), stderr: errOut.String()}
}

func containsFlag(args []string, names ...string) bool {
	for _, a := range args {
		for _, n := range names {
			if a == n {
				return true
			}
		}
	}
	return false
}

func (r ctlRun) want(t *testing.T, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

func TestCtlSubmitShowList(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	u := "https://ctl.example.nl/gallery/1.jpg"
	r := d.ctl(nil, "", "submit", u, "-classification", "A2", "-priority", "high", "-report-id", "ctl-r1",
		"-sha256", strings.Repeat("ab", 32), "-analyst", "an-7", "-source", "public")
	r.want(t, ctl.ExitOK, "submit")
	if r.stdout != "ctl-r1\tpublished\n" {
		t.Errorf("submit output %q", r.stdout)
	}
	d.ctl(nil, "", "submit", u, "-classification", "A2", "-report-id", "ctl-r1").want(t, ctl.ExitOK, "submit again")
	d.settle()

	v := d.caseByURL(u)
	if v.Case.ReportCount != 1 || v.Case.Priority != "high" || v.Case.Reports[0].Analyst != "an-7" {
		t.Fatalf("case %+v, want one high-priority report by an-7", v.Case)
	}
	again := d.ctl(nil, "", "submit", u, "-classification", "A2", "-report-id", "ctl-r1")
	if again.stdout != "ctl-r1\tduplicate\n" {
		t.Errorf("re-submit output %q, want a duplicate", again.stdout)
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"show by id", []string{"show", v.Case.ID}, []string{"Case           " + v.Case.ID, "URL            " + u, "ctl-r1", "received", "intake", "sha256 " + strings.Repeat("ab", 32)}},
		{"show by url flag", []string{"show", "-url", "HTTPS://CTL.example.nl:443/gallery/1.jpg"}, []string{v.Case.ID}},
		{"show by url argument", []string{"show", u}, []string{v.Case.ID}},
		{"list prints hosts", []string{"list"}, []string{"ID", v.Case.ID, "ctl.example.nl", "high"}},
		{"list with urls", []string{"list", "-urls", "-state", string(v.Case.State)}, []string{u}},
		{"list all pages", []string{"list", "-all", "-limit", "1"}, []string{v.Case.ID}},
	}
	for _, tc := range tests {
		r := d.ctl(nil, "", tc.args...)
		r.want(t, ctl.ExitOK, tc.name)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, r.stdout)
			}
		}
	}
	if r := d.ctl(nil, "", "list"); strings.Contains(r.stdout, u) {
		t.Errorf("list printed the full URL without -urls:\n%s", r.stdout)
	}
	var view api.CaseView
	if err := json.Unmarshal([]byte(d.ctl(nil, "", "show", "-json", v.Case.ID).stdout), &view); err != nil || view.Case.ID != v.Case.ID {
		t.Errorf("show -json: %v, id %q", err, view.Case.ID)
	}
	var list api.CaseList
	if err := json.Unmarshal([]byte(d.ctl(nil, "", "list", "-json").stdout), &list); err != nil || len(list.Cases) != 1 {
		t.Errorf("list -json: %v, %d cases", err, len(list.Cases))
	}
}

func TestCtlSubmitFile(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	dir := t.TempDir()
	bad := "# confirmed today\n" +
		"http://file.example.nl/1\n" +
		"\n" +
		"ftp://file.example.nl/2\n" +
		`{"report_id":"json-1","url":"http://file.example.nl/3","confirmed_at":"2026-11-26T10:00:00Z","classification":"Z9"}` + "\n" +
		`{"report_id":"json-2","url":"http://file.example.nl/4","confirmed_at":"2026-11-26T10:00:00Z","classification":"B1","extra_field":1}` + "\n"
	path := filepath.Join(dir, "reports.txt")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r := d.ctl(nil, "", "submit", "-f", path, "-classification", "A1")
	r.want(t, ctl.ExitUsage, "submit a file with bad lines")
	for _, w := range []string{path + `:4: invalid report: url: scheme "ftp" is not http or https`, path + ":5: invalid report: classification", "2 of 4 reports are invalid; nothing was published"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if strings.Contains(r.stderr, ":2:") || strings.Contains(r.stderr, ":6:") {
		t.Errorf("good lines named as bad:\n%s", r.stderr)
	}
	d.settle()
	var list api.CaseList
	d.get("/v1/cases", testToken, &list)
	if len(list.Cases) != 0 {
		t.Fatalf("a rejected file published %d cases", len(list.Cases))
	}

	// Fixed, from stdin: every report is published, each on its line.
	good := strings.Replace(strings.Replace(bad, "ftp:", "https:", 1), "Z9", "A2", 1)
	r = d.ctl(nil, good, "submit", "-f", "-", "-classification", "A1")
	r.want(t, ctl.ExitOK, "submit the fixed file")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "json-1\tpublished") || !strings.HasPrefix(lines[0], "ctl-") {
		t.Errorf("output lines %q", lines)
	}
	d.settle()
	d.get("/v1/cases", testToken, &list)
	if len(list.Cases) != 4 {
		t.Errorf("%d cases, want 4", len(list.Cases))
	}
	if v := d.caseByURL("http://file.example.nl/1"); v.Case.Classification != "A1" {
		t.Errorf("URL line classification %q, want the flag's A1", v.Case.Classification)
	}
}

func TestCtlDeadLetterResubmit(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	rep := report("bad-1", "http://dlq.example.nl/a")
	rep["classification"] = "Z9"
	d.publish(rep, "bad-1")
	rep2 := report("bad-2", "http://dlq.example.nl/b")
	rep2["classification"] = "Z9"
	d.publish(rep2, "bad-2")
	d.settle()

	r := d.ctl(nil, "", "dlq", "list")
	r.want(t, ctl.ExitOK, "dlq list")
	if !strings.Contains(r.stdout, "bad-1") || !strings.Contains(r.stdout, "unknown classification") {
		t.Fatalf("dlq list:\n%s", r.stdout)
	}
	var page struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(d.ctl(nil, "", "dlq", "list", "-json", "-all", "-limit", "1").stdout), &page); err != nil || len(page.DeadLetters) != 2 {
		t.Fatalf("dlq list -json -all: %v, %d dead letters", err, len(page.DeadLetters))
	}
	seq := map[string]string{}
	for _, dl := range page.DeadLetters {
		seq[dl.Header.Get("Takedown-Original-Msg-Id")] = strconv.FormatUint(dl.Seq, 10)
	}

	r = d.ctl(nil, "", "dlq", "show", seq["bad-1"])
	r.want(t, ctl.ExitOK, "dlq show")
	for _, w := range []string{"unknown classification \"Z9\"", "Takedown-Original-Msg-Id: bad-1", `  "classification": "Z9",`, "takedown.reports"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("dlq show lacks %q:\n%s", w, r.stdout)
		}
	}

	// The original is still wrong: nothing goes out.
	r = d.ctl(nil, "", "dlq", "resubmit", seq["bad-1"])
	r.want(t, ctl.ExitUsage, "resubmit the invalid original")
	if !strings.Contains(r.stderr, "classification") {
		t.Errorf("stderr does not name the problem:\n%s", r.stderr)
	}

	fixed := filepath.Join(t.TempDir(), "fixed.json")
	if err := os.WriteFile(fixed, []byte(strings.Replace(string(mustJSON(t, rep)), "Z9", "A1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.ctl(nil, "", "dlq", "resubmit", seq["bad-1"], "-f", fixed).want(t, ctl.ExitOK, "resubmit corrected file")
	// -edit runs $EDITOR on the payload.
	re := d.ctl(map[string]string{"EDITOR": "sed -i s/Z9/B2/"}, "", "dlq", "resubmit", "-edit", seq["bad-2"])
	re.want(t, ctl.ExitOK, "resubmit edited")
	d.settle()
	if v := d.caseByURL("http://dlq.example.nl/a"); v.Case.ReportCount != 1 || v.Case.Reports[0].ReportID != "bad-1" {
		t.Errorf("resubmitted case %+v", v.Case)
	}
	if v := d.caseByURL("http://dlq.example.nl/b"); v.Case.Classification != "B2" {
		t.Errorf("edited case classification %q, want B2", v.Case.Classification)
	}
	// Resubmitting twice still records the report once.
	d.ctl(nil, "", "dlq", "resubmit", seq["bad-1"], "-f", fixed).want(t, ctl.ExitOK, "resubmit again")
	d.settle()
	if v := d.caseByURL("http://dlq.example.nl/a"); v.Case.ReportCount != 1 {
		t.Errorf("report count %d after a second resubmit, want 1", v.Case.ReportCount)
	}
	var after struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	d.get("/v1/dlq", testToken, &after)
	if len(after.DeadLetters) != 2 {
		t.Errorf("%d dead letters after resubmitting, want the 2 originals only", len(after.DeadLetters))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCtlExitCodes(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	d.publish([]byte("not json"), "junk")
	d.settle()
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, ctl.TokenFileName), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	strangerKey := filepath.Join(t.TempDir(), "stranger.nk")
	writeUserSeed(t, strangerKey)
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		want   int
		stderr string
	}{
		{"wrong token", nil, []string{"-token", "nope", "list"}, ctl.ExitUnauthorized, "refused the token from -token"},
		{"reader may not read dead letters", nil, []string{"dlq", "list", "-token", "test-token-reader"}, ctl.ExitUnauthorized, "may not call GET /v1/dlq"},
		{"no token anywhere", nil, []string{"-data", emptyDir, "list"}, ctl.ExitUnauthorized, "no API token"},
		{"token from the data dir", nil, []string{"-data", dataDir, "list"}, ctl.ExitOK, ""},
		{"token from the data dir variable", map[string]string{"TAKEDOWN_DATA": dataDir}, []string{"dlq", "list", "-data", dataDir}, ctl.ExitOK, ""},
		{"token from the environment", map[string]string{"TAKEDOWN_TOKEN": testToken}, []string{"list"}, ctl.ExitOK, ""},
		{"wrong token from the environment", map[string]string{"TAKEDOWN_TOKEN": "nope"}, []string{"list"}, ctl.ExitUnauthorized, "$TAKEDOWN_TOKEN"},
		{"unknown case", nil, []string{"show", "0000000000000000"}, ctl.ExitNotFound, "case 0000000000000000 not found"},
		{"unknown url", nil, []string{"show", "-url", "http://nowhere.example.nl/"}, ctl.ExitNotFound, "no case for URL"},
		{"unknown dead letter", nil, []string{"dlq", "show", "999"}, ctl.ExitNotFound, "dead letter 999 not found"},
		{"known dead letter", nil, []string{"dlq", "show", "1"}, ctl.ExitOK, ""},
		{"bad state", nil, []string{"list", "-state", "bogus"}, ctl.ExitUsage, "unknown state"},
		{"bad since", nil, []string{"list", "-since", "yesterday"}, ctl.ExitUsage, "since"},
		{"unknown flag", nil, []string{"list", "-bogus"}, ctl.ExitUsage, "flag provided but not defined"},
		{"unknown command", nil, []string{"frobnicate"}, ctl.ExitUsage, "unknown command"},
		{"invalid report flag", nil, []string{"submit", "http://x.example.nl/", "-classification", "A1", "-md5", "xyz"}, ctl.ExitUsage, "hashes.md5"},
		{"api unreachable", nil, []string{"list", "-api", "http://127.0.0.1:1"}, ctl.ExitError, "reach the API"},
		{"nats unreachable", nil, []string{"submit", "http://x.example.nl/", "-classification", "A1", "-nats", "nats://127.0.0.1:1"}, ctl.ExitError, "connect to NATS"},
		{"subject the key may not publish to", nil, []string{"submit", "http://x.example.nl/", "-classification", "A1", "-subject", "elsewhere"}, ctl.ExitUnauthorized, `refused for these credentials (is elsewhere the daemon's intake.subject?)`},
		{"no nats key", nil, []string{"-data", emptyDir, "-nats-nkey", "", "submit", "http://x.example.nl/", "-classification", "A1"}, ctl.ExitUnauthorized, "wants credentials: pass -nats-nkey"},
		{"unknown nats key", nil, []string{"-nats-nkey", strangerKey, "submit", "http://x.example.nl/", "-classification", "A1"}, ctl.ExitUnauthorized, "refused the credentials (nkey " + strangerKey + ")"},
		{"nats key from the data dir", nil, []string{"-data", d.keyDir, "-nats-nkey", "", "submit", "http://x.example.nl/", "-classification", "A1"}, ctl.ExitOK, ""},
		{"nats key from the environment", map[string]string{ctl.EnvNATSNKey: broker.SeedFile(d.keyDir, broker.RoleCtl)}, []string{"submit", "http://x.example.nl/", "-classification", "A1"}, ctl.ExitOK, ""},
		{"help", nil, []string{"help"}, ctl.ExitOK, ""},
	}
	for _, tc := range tests {
		r := d.ctl(tc.env, "", tc.args...)
		if r.code != tc.want {
			t.Errorf("%s: exit %d, want %d; stderr: %s", tc.name, r.code, tc.want, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%s: stderr %q lacks %q", tc.name, r.stderr, tc.stderr)
		}
	}
}

// A report rejected under one configuration goes through unchanged once
// the configuration is fixed: the original payload is re-published.
func TestCtlResubmitOriginalAfterConfigFix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	strict := testConfig(dir)
	strict.Intake.MaxReportBytes = 200
	d := startDaemon(t, strict)
	rep := report("big-1", "http://big.example.nl/a")
	rep["note"] = strings.Repeat("x", 300)
	d.publish(rep, "big-1")
	d.settle()
	r := d.ctl(nil, "", "dlq", "show", "1")
	r.want(t, ctl.ExitOK, "dlq show")
	if !strings.Contains(r.stdout, "over the limit of 200") {
		t.Fatalf("dlq show:\n%s", r.stdout)
	}
	d.shutdown()

	d2 := startDaemon(t, testConfig(dir))
	r = d2.ctl(nil, "", "dlq", "resubmit", "1")
	r.want(t, ctl.ExitOK, "resubmit the original")
	if r.stdout != "big-1\tpublished\n" {
		t.Errorf("resubmit output %q", r.stdout)
	}
	d2.settle()
	if v := d2.caseByURL("http://big.example.nl/a"); v.Case.ReportCount != 1 {
		t.Errorf("report count %d, want 1", v.Case.ReportCount)
	}
}

// With no token in the config, the daemon writes one to its data dir and
// takedownctl pointed at that dir (flag or variable) finds it there.
func TestCtlFindsTheDaemonsTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.API.Tokens = nil
	d := startDaemon(t, cfg)
	d.ctl(nil, "", "-data", dir, "list").want(t, ctl.ExitOK, "list with -data")
	d.ctl(map[string]string{"TAKEDOWN_DATA": dir, "TAKEDOWN_TOKEN": ""}, "", "dlq", "list").want(t, ctl.ExitOK, "dlq list with TAKEDOWN_DATA")
	d.ctl(nil, "", "-data", t.TempDir(), "list").want(t, ctl.ExitUnauthorized, "list with an empty data dir")
}

func TestCtlCheck(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/x", hostersim.Content([]byte("confirmed")))
	cfg := testConfig(t.TempDir())
	cfg.Recheck.Probe.AllowPrivate = true
	d := startDaemon(t, cfg)
	now := time.Now().UTC()
	for id, state := range map[string]takedown.State{"0000000000000E01": takedown.StateNoticed, "0000000000000E02": takedown.StateClosed} {
		c := takedown.Case{ID: id, URL: srv.URL() + "/x", State: state, ReceivedAt: now, Routing: &takedown.Routing{Kind: takedown.RouteHoster, At: now}}
		if _, err := d.app.Store().CreateCase(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	r := d.ctl(nil, "", "check", "0000000000000e01")
	r.want(t, ctl.ExitOK, "check")
	if !strings.Contains(r.stdout, "check requested") {
		t.Errorf("stdout %q", r.stdout)
	}
	if c := d.waitChecked("0000000000000E01"); c.Checks.LastVerdict != "online" {
		t.Errorf("verdict %q, want online", c.Checks.LastVerdict)
	}
	d.ctl(nil, "", "check", "0000000000000F01").want(t, ctl.ExitNotFound, "check an unknown case")
	d.ctl(nil, "", "check", "0000000000000E02").want(t, ctl.ExitRefused, "check a closed case")
	d.ctl(nil, "", "check").want(t, ctl.ExitUsage, "check without a case")
}

// writeUserSeed writes a new nkey seed that no daemon knows.
func writeUserSeed(t *testing.T, path string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The file names takedownctl looks for in -data are the ones the daemon
// writes there.
func TestCtlKnowsTheDaemonsFileNames(t *testing.T) {
	t.Parallel()
	if ctl.TokenFileName != TokenFileName {
		t.Errorf("takedownctl reads %s, the daemon writes %s", ctl.TokenFileName, TokenFileName)
	}
	if got := broker.SeedFile("", broker.RoleCtl); got != ctl.NATSKeyFileName {
		t.Errorf("takedownctl reads %s, the daemon writes %s", ctl.NATSKeyFileName, got)
	}
}
