package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetrics scrapes /metrics (no token needed: counts only) after one
// good and one bad report, and checks that the counts are there and that
// nothing of the URL is.
func TestMetrics(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	d.publish(report("m-1", "http://metrics.example.nl/secret-path.jpg"), "m-1")
	d.publish([]byte("not json"), "m-2")
	d.settle()
	want := []string{
		`takedownd_events_total{type="received"} 1`,
		`takedownd_dead_letters_total{kind="reports"} 1`,
		`takedownd_cases{state="received"} 1`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		body = d.scrape()
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(body, w)
		}
		if !missing {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Contains(body, "metrics.example.nl") || strings.Contains(body, "secret-path") {
		t.Error("/metrics shows part of a URL")
	}
}

// scrape returns the daemon's /metrics page.
func (d *daemon) scrape() string {
	d.t.Helper()
	resp, err := http.Get("http://" + d.app.APIAddr() + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
