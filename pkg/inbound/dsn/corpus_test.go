package dsn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixturesEnv points at the shared fixtures when they do not sit in a
// shared/ directory above the working directory (as rdapsim.FixturesEnv).
const fixturesEnv = "TAKEDOWND_FIXTURES"

// findBounceFixtures finds shared/fixtures/bounces the way rdapsim finds
// shared/fixtures/rdap: the environment first, then up from the working
// directory.
func findBounceFixtures() (string, error) {
	if dir := os.Getenv(fixturesEnv); dir != "" {
		for _, cand := range []string{filepath.Join(dir, "bounces"), dir} {
			if isBounceDir(cand) {
				return cand, nil
			}
		}
		return "", fmt.Errorf("find bounce fixtures: %s=%q holds no expectations.json", fixturesEnv, dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find bounce fixtures: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if cand := filepath.Join(dir, "shared", "fixtures", "bounces"); isBounceDir(cand) {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find bounce fixtures: no shared/fixtures/bounces above the working directory; set " + fixturesEnv)
		}
	}
}

func isBounceDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "expectations.json"))
	return err == nil
}

// expectation is one answer of the fixtures' expectations.json.
type expectation struct {
	File      string `json:"file"`
	Kind      string `json:"kind"`
	Permanent *bool  `json:"permanent"`
	Recipient string `json:"recipient"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
}

// fixtureKind maps a Report to the fixtures' four kinds.
func fixtureKind(k Kind) string {
	switch k {
	case KindBounce, KindDelay, KindAutoReply:
		return string(k)
	}
	return "not_bounce"
}

// ratio is a count of right answers out of those asked.
type ratio struct{ ok, of int }

func (r *ratio) add(ok bool) {
	r.of++
	if ok {
		r.ok++
	}
}

func (r ratio) pct() float64 {
	if r.of == 0 {
		return 100
	}
	return 100 * float64(r.ok) / float64(r.of)
}

// TestBounceCorpus reads every mail of sisimai's set in
// shared/fixtures/bounces and measures the answers against sisimai's.
// Run it with -v to see the table and every miss:
//
//	go test -run TestBounceCorpus -v ./pkg/inbound/dsn
func TestBounceCorpus(t *testing.T) {
	t.Parallel()
	dir, err := findBounceFixtures()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expectations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []expectation
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("decode expectations: %v", err)
	}
	if len(want) < 100 {
		t.Fatalf("%d expectations, want the whole set", len(want))
	}
	var recognised, kind, permanence, recipient, status, reason ratio
	falseFailures := 0
	var misses []string
	for _, w := range want {
		raw, err := os.ReadFile(filepath.Join(dir, "maildir", w.File))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Parse(raw)
		if err != nil {
			misses = append(misses, fmt.Sprintf("%s: parse: %v", w.File, err))
		}
		got := fixtureKind(rep.Kind)
		rc, _ := rep.First()
		failure := w.Kind == "bounce" || w.Kind == "delay"
		if failure {
			recognised.add(rep.IsFailure())
		} else if rep.IsFailure() {
			falseFailures++
		}
		kind.add(got == w.Kind)
		if got != w.Kind {
			misses = append(misses, fmt.Sprintf("%s: kind %s (%s), want %s", w.File, got, rep.Format, w.Kind))
		}
		if w.Kind == "bounce" && w.Permanent != nil {
			// Permanence is asked of every failure the parser recognised;
			// whether it called it a bounce or a delay is the kind's figure.
			ok := rep.IsFailure() && rc.Permanent == *w.Permanent
			permanence.add(ok)
			if !ok {
				misses = append(misses, fmt.Sprintf("%s: permanent %v (%s %s), want %v (%s %s)", w.File, rc.Permanent, rc.Reason, rc.Status, *w.Permanent, w.Reason, w.Status))
			}
		}
		if failure && w.Recipient != "" {
			ok := strings.EqualFold(rc.Address, w.Recipient)
			recipient.add(ok)
			if !ok {
				misses = append(misses, fmt.Sprintf("%s: recipient %q, want %q", w.File, rc.Address, w.Recipient))
			}
		}
		if failure && w.Status != "" && !strings.Contains(w.Status, ".0.9") {
			status.add(rc.Status == w.Status)
		}
		if failure {
			ok := rc.Reason == w.Reason
			reason.add(ok)
			if !ok {
				misses = append(misses, fmt.Sprintf("%s: reason %s, want %s (%s; %.120s)", w.File, rc.Reason, w.Reason, rep.Format, rc.Diagnostic))
			}
		}
	}
	for _, m := range misses {
		t.Log(m)
	}
	t.Logf("bounce corpus, %d mails (%s):", len(want), dir)
	t.Logf("  %-44s %7s %8s %6s", "figure", "right", "of", "%")
	for _, row := range []struct {
		name string
		r    ratio
		min  float64
	}{
		{"recognised as a bounce or a delay", recognised, 97},
		{"right kind (bounce/delay/not_bounce/auto_reply)", kind, 95},
		{"bounces with the right permanence", permanence, 95},
		{"right failed recipient (where one is named)", recipient, 95},
		{"status code as sisimai's (explicit ones)", status, 0},
		{"reason name as sisimai's", reason, 0},
	} {
		t.Logf("  %-44s %7d %8d %6.1f", row.name, row.r.ok, row.r.of, row.r.pct())
		if row.r.pct() < row.min {
			t.Errorf("%s: %.1f %%, want at least %.0f %%", row.name, row.r.pct(), row.min)
		}
	}
	t.Logf("  %-44s %7d", "non-bounces taken for a failed delivery", falseFailures)
	if falseFailures != 0 {
		t.Errorf("%d mails that are no failed delivery were taken for one, want 0", falseFailures)
	}
}
