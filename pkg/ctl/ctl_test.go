package ctl

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(t.Context(), args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
	})
	return code, out.String(), errOut.String()
}

// The README copies the usage text, so it must name every flag there is.
func TestUsageNamesEveryFlag(t *testing.T) {
	t.Parallel()
	flagLine := regexp.MustCompile(`(?m)^  (-[a-z0-9-]+)`)
	for _, cmd := range [][]string{{"submit"}, {"show"}, {"list"}, {"dlq", "list"}, {"dlq", "show"}, {"dlq", "resubmit"},
		{"check"}, {"enrich"}, {"route"}, {"add-contact"}, {"removed"}, {"pause"}, {"resume"}, {"close"}, {"partner-status"}, {"tokens"}, {"contacts"}} {
		code, _, stderr := run(t, nil, "", append(cmd, "-h")...)
		if code != ExitOK {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		flags := flagLine.FindAllStringSubmatch(stderr, -1)
		if len(flags) < 9 {
			t.Fatalf("%s -h listed %d flags:\n%s", cmd, len(flags), stderr)
		}
		for _, f := range flags {
			if !strings.Contains(usageText, f[1]+" ") && !strings.Contains(usageText, f[1]+",") && !strings.Contains(usageText, f[1]+"]") {
				t.Errorf("usage text does not mention %s of %s", f[1], cmd)
			}
		}
	}
	for _, v := range []string{EnvAPI, EnvNATS, EnvNATSCreds, EnvNATSNKey, EnvNATSCA, EnvSubject, EnvToken, EnvTokenFile, EnvData} {
		if !strings.Contains(usageText, v) {
			t.Errorf("usage text does not mention %s", v)
		}
	}
}

func TestTokenPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flagFile := write("flag-token", "from-flag-file\n")
	envFile := write("env-token", "  from-env-file\n")
	empty := write("empty", "\n")
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	write("data/"+TokenFileName, "from-data-dir\n")
	tests := []struct {
		name      string
		flagToken string
		flagFile  string
		env       map[string]string
		want      string
		wantCode  int
	}{
		{"flag beats everything", "from-flag", flagFile, map[string]string{EnvToken: "x", EnvData: dataDir}, "from-flag", 0},
		{"flag file beats environment", "", flagFile, map[string]string{EnvToken: "x"}, "from-flag-file", 0},
		{"environment token", "", "", map[string]string{EnvToken: "from-env", EnvTokenFile: envFile}, "from-env", 0},
		{"environment file", "", "", map[string]string{EnvTokenFile: envFile, EnvData: dataDir}, "from-env-file", 0},
		{"data dir from environment", "", "", map[string]string{EnvData: dataDir}, "from-data-dir", 0},
		{"no token file", "", "", map[string]string{EnvData: filepath.Join(dir, "none")}, "", ExitUnauthorized},
		{"empty token file", "", empty, nil, "", ExitUnauthorized},
		{"missing flag file", "", filepath.Join(dir, "missing"), nil, "", ExitUnauthorized},
	}
	for _, tc := range tests {
		var f connFlags
		f.defaults(Env{Getenv: func(k string) string { return tc.env[k] }})
		f.token, f.tokenFile = tc.flagToken, tc.flagFile
		got, _, err := f.apiToken()
		if tc.wantCode != 0 {
			if err == nil || exitCode(err) != tc.wantCode {
				t.Errorf("%s: err %v (exit %d), want exit %d", tc.name, err, exitCode(err), tc.wantCode)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: token %q, err %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestCollectNamesEveryBadLine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	good := `{"report_id":"j1","url":"http://a.example/1","confirmed_at":"2026-11-26T10:00:00Z","classification":"A1"}`
	tests := []struct {
		name           string
		flags          reportFlags
		input          string
		wantIDs        []string
		wantProblems   []string
		wantNoProblems bool
		wantTotal      int
	}{
		{"urls, comments and blanks", reportFlags{classification: "B1"}, "# header\n\nhttp://a.example/1\n  http://a.example/2  \n", nil, nil, true, 2},
		{"json line kept as sent", reportFlags{}, good + "\n", []string{"j1"}, nil, true, 1},
		{"url line without classification", reportFlags{}, "http://a.example/1\n" + good, []string{"j1"}, []string{"in:1: a URL line needs -classification"}, false, 2},
		{"bad lines each named", reportFlags{classification: "A1"}, "http://a.example/1\nnot a url\n{\"url\":1}\n{broken\n",
			nil, []string{"in:2: invalid report: url: not an absolute URL", "in:3: invalid report: report_id: missing", "in:4: invalid report: not a JSON object"}, false, 4},
	}
	for _, tc := range tests {
		file := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(file, []byte(tc.input), 0o600); err != nil {
			t.Fatal(err)
		}
		got, problems, err := tc.flags.collect(nil, file, nil, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, id := range tc.wantIDs {
			if !slices.ContainsFunc(got, func(p pending) bool { return p.id == id }) {
				t.Errorf("%s: no report %s in %+v", tc.name, id, got)
			}
		}
		if tc.wantNoProblems && len(problems) > 0 {
			t.Errorf("%s: problems %q", tc.name, problems)
		}
		for _, w := range tc.wantProblems {
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, strings.Replace(w, "in:", file+":", 1)) }) {
				t.Errorf("%s: problems %q lack %q", tc.name, problems, w)
			}
		}
		if n := len(got) + len(problems); n != tc.wantTotal {
			t.Errorf("%s: %d reports and problems, want one per input line (%d)", tc.name, n, tc.wantTotal)
		}
	}
}

func TestBuiltReportsCarryTheFlags(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	o := reportFlags{classification: "A2", priority: "high", mediaType: "video", md5: strings.Repeat("a", 32),
		analyst: "an-1", source: "public", partnerRef: "p-9"}
	got := string(o.build("http://a.example/x", "id-1", now))
	want := `{"report_id":"id-1","url":"http://a.example/x","confirmed_at":"2026-11-26T10:00:00Z","classification":"A2","media_type":"video","hashes":{"md5":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"priority":"high","analyst":"an-1","source":"public","partner_ref":"p-9"}`
	if got != want {
		t.Errorf("build:\n got %s\nwant %s", got, want)
	}
	o.reportID, o.confirmedAt = "given", "2026-01-02T03:04:05+01:00"
	if got := string(o.build("http://a.example/x", "id-1", now)); !strings.Contains(got, `"report_id":"given"`) || !strings.Contains(got, `"confirmed_at":"2026-01-02T03:04:05+01:00"`) {
		t.Errorf("flags did not override the defaults: %s", got)
	}
}

func TestReportIDs(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	shape := regexp.MustCompile(`^ctl-[0-9A-HJKMNP-TV-Z]{26}$`)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		id := newReportID(t0.Add(time.Duration(i) * time.Millisecond))
		if !shape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		if id <= prev {
			t.Fatalf("id %q sorts before the earlier %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "no command given"},
		{"submit without url", []string{"submit", "-classification", "A1"}, "submit needs a URL or -f FILE"},
		{"submit without classification", []string{"submit", "http://a.example/"}, "submit needs -classification"},
		{"report id with two urls", []string{"submit", "http://a.example/1", "http://a.example/2", "-classification", "A1", "-report-id", "x"}, "-report-id names a single report"},
		{"urls and file", []string{"submit", "http://a.example/1", "-f", "x", "-classification", "A1"}, "not both"},
		{"bad priority", []string{"submit", "http://a.example/1", "-classification", "A1", "-priority", "urgent"}, "report flags: invalid report: priority"},
		{"bad confirmed-at", []string{"submit", "http://a.example/1", "-classification", "A1", "-confirmed-at", "today"}, "confirmed_at"},
		{"missing file", []string{"submit", "-f", "/nonexistent/reports.txt", "-classification", "A1"}, "open report file"},
		{"show without id", []string{"show"}, "show needs one CASE_ID"},
		{"show with both", []string{"show", "X", "-url", "http://a.example/"}, "not both"},
		{"list with argument", []string{"list", "x"}, "list takes no arguments"},
		{"dlq without subcommand", []string{"dlq"}, "dlq needs a subcommand"},
		{"dlq unknown subcommand", []string{"dlq", "purge"}, "unknown dlq subcommand"},
		{"dlq show bad seq", []string{"-token", "t", "dlq", "show", "abc"}, "not a positive number"},
		{"dlq resubmit file and edit", []string{"dlq", "resubmit", "1", "-f", "x", "-edit"}, "not both"},
	}
	for _, tc := range tests {
		code, stdout, stderr := run(t, nil, "", tc.args...)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want %d", tc.name, code, ExitUsage)
		}
		if !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: stderr %q lacks %q", tc.name, stderr, tc.stderr)
		}
		if stdout != "" {
			t.Errorf("%s: printed %q on stdout", tc.name, stdout)
		}
	}
}
