package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// requireBrowserEnv makes a missing Chromium a failure instead of a skip
// (.ci/run sets it), so CI cannot pass without having run the browser.
const requireBrowserEnv = "TAKEDOWN_REQUIRE_BROWSER"

// chromium starts a headless Chromium with an empty profile and returns a
// context for driving it. The flags keep it from reaching for the
// network on its own (this machine's closed network refuses that).
func chromium(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv(requireBrowserEnv) == "1" {
			t.Fatalf("chromium is not installed and %s=1 requires it (apt-get install -y chromium)", requireBrowserEnv)
		}
		t.Skipf("chromium is not installed (apt-get install -y chromium; %s=1 makes this a failure)", requireBrowserEnv)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The browser lives as long as the context of its first call: that
	// one has no deadline (each step below has its own).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one step in the browser: generous, as a busy 2-core
// machine renders slowly.
const stepTimeout = time.Minute

// get runs one action in the browser and returns its value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	get(t, ctx, what, chromedp.Steps(steps...))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

func html(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

func login(t *testing.T, ctx context.Context, base, token, waitFor string) {
	t.Helper()
	run(t, ctx, "log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(waitFor)),
	)
}

// TestDashboardInChromium drives the dashboard in a real headless
// Chromium against a daemon with seeded cases: the login (a wrong token
// refused), the overview's figures and histogram, an action from the
// review queue that changes the case and its timeline, the hosters
// ranked, the dead letters, a form whose CSRF token was tampered with
// refused, the logout, and a hoster's login that shows none of another
// hoster's URLs. A screenshot of the overview is written under the
// test's temp dir.
func TestDashboardInChromium(t *testing.T) {
	t.Parallel()
	w := startWorld(t)
	ctx := chromium(t)

	run(t, ctx, "a wrong token",
		chromedp.Navigate(w.base+"/review"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	login(t, ctx, w.base, secret("alice"), "#cases-total")

	// The overview shows the seeded figures, as /v1/stats has them.
	for sel, want := range map[string]string{
		"#cases-total":                                 "6",
		"#cases-review":                                "1",
		"#who":                                         "alice",
		"#to-removal td:nth-of-type(1)":                "3",
		"#to-removal td:nth-of-type(2)":                "30h 0m",
		"#to-first-notice td:nth-of-type(1)":           "5",
		"#to-first-notice td:nth-of-type(2)":           "1h 0m",
		"#open-by-state tr[data-state=removed] td.num": "3",
		"#open-by-state tr[data-state=review] td.num":  "1",
	} {
		if got := text(t, ctx, sel); got != want {
			t.Errorf("overview %s: %q, want %q", sel, got, want)
		}
	}
	bars := get(t, ctx, "read the histogram", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#histogram g.bar")).map(g => g.dataset.label + "=" + g.dataset.count)`))
	if want := []string{"≤ 1h=0", "1h–12h=1", "12h–24h=0", "24h–72h=1", "72h–7d=0", "> 7d=1"}; !slices.Equal(bars, want) {
		t.Errorf("histogram bars %q, want %q", bars, want)
	}
	if refresh := get(t, ctx, "read the refresh", chromedp.AttributeValue(chromedp.CSS(`meta[http-equiv=refresh]`), "content")); refresh.Value == "" {
		t.Errorf("the overview does not refresh itself")
	}
	shot := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	path := filepath.Join(t.TempDir(), "overview.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the overview: %s (%d bytes)", path, len(shot))
	if keep := os.Getenv("TAKEDOWN_SCREENSHOT_DIR"); keep != "" {
		_ = os.WriteFile(filepath.Join(keep, "overview.png"), shot, 0o644)
	}

	// The review queue's close form closes the case.
	rev := w.cases["review"]
	form := `.actions[data-case="` + rev.ID + `"] form[data-action=close]`
	run(t, ctx, "the review queue", chromedp.Navigate(w.base+"/review"), chromedp.WaitVisible(chromedp.CSS("#case-"+rev.ID)))
	if keep := os.Getenv("TAKEDOWN_SCREENSHOT_DIR"); keep != "" {
		s := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		_ = os.WriteFile(filepath.Join(keep, "review.png"), s, 0o644)
	}
	run(t, ctx, "close from the review queue",
		chromedp.SendKeys(chromedp.CSS(form+` input[name=reason]`), "a test image, not actionable"),
		chromedp.Click(chromedp.CSS(form+` button`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := text(t, ctx, "#flash"); !strings.Contains(got, "close recorded") || !strings.Contains(got, "closed now") {
		t.Errorf("flash after close: %q", got)
	}
	if got := text(t, ctx, "#review-empty"); got == "" {
		t.Errorf("the review queue still lists the case")
	}
	run(t, ctx, "the case page", chromedp.Navigate(w.base+"/cases/"+rev.ID), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	if got := text(t, ctx, "#case-state"); got != string(takedown.StateClosed) {
		t.Errorf("case state on its page: %q", got)
	}
	if ev, by := text(t, ctx, "#timeline tbody tr:first-child td.event"), text(t, ctx, "#timeline tbody tr:first-child td:nth-of-type(3)"); ev != "closed" || by != "alice" {
		t.Errorf("newest timeline entry: %s by %s, want closed by alice", ev, by)
	}
	var v api.CaseView
	if w.apiGet(t, "/v1/cases/"+rev.ID, "admin", &v); v.Case.State != takedown.StateClosed {
		t.Errorf("the API says %s after the close", v.Case.State)
	}
	if keep := os.Getenv("TAKEDOWN_SCREENSHOT_DIR"); keep != "" {
		s := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
		_ = os.WriteFile(filepath.Join(keep, "case.png"), s, 0o644)
	}

	// Hosters, the slowest first; dead letters.
	run(t, ctx, "hosters", chromedp.Navigate(w.base+"/hosters"), chromedp.WaitVisible(chromedp.CSS("#hosters")))
	ranked := get(t, ctx, "read the hosters", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#hosters tbody tr")).map(r => r.dataset.hoster)`))
	if want := []string{"hoster-b.example", "hoster-a.example"}; len(ranked) != 4 || !slices.Equal(ranked[:2], want) {
		t.Errorf("hosters ranked %q, want %q (the slowest first)", ranked, want)
	}
	run(t, ctx, "dead letters", chromedp.Navigate(w.base+"/dlq"), chromedp.WaitVisible(chromedp.CSS("#dlq")))
	if got := text(t, ctx, "#dlq tbody tr td.reason"); got == "" {
		t.Errorf("the dead letter has no reason")
	}

	// A form whose CSRF token is not the session's is refused.
	a2 := w.cases["a2"]
	checkForm := `form[data-action=check]`
	run(t, ctx, "a tampered form",
		chromedp.Navigate(w.base+"/cases/"+a2.ID),
		chromedp.WaitVisible(chromedp.CSS(checkForm)),
		chromedp.SetAttributeValue(chromedp.CSS(checkForm+` input[name=csrf]`), "value", "forged"),
		chromedp.Click(chromedp.CSS(checkForm+` button`)),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	if got := text(t, ctx, "#error"); !strings.Contains(got, "out of date") {
		t.Errorf("a forged CSRF token: %q", got)
	}
	if w.apiGet(t, "/v1/cases/"+a2.ID, "admin", &v); slices.ContainsFunc(v.Timeline, func(e takedown.Event) bool { return e.Type == takedown.EventCheckRequested }) {
		t.Errorf("the forged form asked for a check")
	}

	// Logout ends the session.
	run(t, ctx, "log out",
		chromedp.Navigate(w.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#logout")),
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.Navigate(w.base+"/hosters"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
	)

	// A hoster sees its own cases and none of another hoster's URLs.
	login(t, ctx, w.base, secret("hoster-a"), "#cases-total")
	if got := text(t, ctx, "#cases-total"); got != "2" {
		t.Errorf("hoster-a's overview counts %s cases, want 2", got)
	}
	var seen strings.Builder
	for _, page := range []string{"/", "/cases", "/review", "/hosters", "/cases/" + w.cases["a1"].ID, "/cases/" + w.cases["b1"].ID, "/dlq"} {
		run(t, ctx, "hoster-a opens "+page, chromedp.Navigate(w.base+page), chromedp.WaitVisible(chromedp.CSS("h1")))
		seen.WriteString(html(t, ctx))
	}
	all := seen.String()
	if leak := containsAny(all, append(w.urlsOf("b1", "b2", "review"), "hoster-b.example", "dlq.example", "analyst-17")); leak != "" {
		t.Errorf("hoster-a was shown %q", leak)
	}
	for _, u := range w.urlsOf("a1", "a2") {
		if !strings.Contains(all, u) {
			t.Errorf("hoster-a was not shown its own case's URL %s", u)
		}
	}
	if strings.Contains(all, `href="/dlq"`) {
		t.Errorf("hoster-a is offered the dead letters")
	}
}
