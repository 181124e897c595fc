package hostersim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBehaviours(t *testing.T) {
	t.Parallel()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		name     string
		b        Behaviour
		method   string
		header   map[string]string
		status   int
		body     string
		location string
	}{
		{"content", Content([]byte("hello")), "GET", nil, 200, "hello", ""},
		{"content head", Content([]byte("hello")), "HEAD", nil, 200, "", ""},
		{"content range", Content([]byte("hello")), "GET", map[string]string{"Range": "bytes=0-0"}, 206, "h", ""},
		{"chunked", Chunked([]byte("hello")), "GET", nil, 200, "hello", ""},
		{"404", Status(404), "GET", nil, 404, "404 Not Found\n", ""},
		{"451", Status(451), "GET", nil, 451, "451 Unavailable For Legal Reasons\n", ""},
		{"redirect", Redirect(301, "http://other.example/"), "GET", nil, 301, "", "http://other.example/"},
		{"head not allowed", HeadNotAllowed(Content([]byte("x"))), "HEAD", nil, 405, "", ""},
		{"head not allowed get", HeadNotAllowed(Content([]byte("x"))), "GET", nil, 200, "x", ""},
		{"delay", Delay(time.Millisecond, Status(410)), "GET", nil, 410, "410 Gone\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t)
			s.Set("/p", tt.b)
			c := &http.Client{CheckRedirect: noRedirect}
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, s.URL()+"/p", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("do: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || string(body) != tt.body || resp.Header.Get("Location") != tt.location {
				t.Errorf("got %d %q location %q, want %d %q %q", resp.StatusCode, body, resp.Header.Get("Location"), tt.status, tt.body, tt.location)
			}
			if s.Hits("/p") != 1 {
				t.Errorf("hits = %d, want 1", s.Hits("/p"))
			}
			if seen, _ := s.Last("/p"); seen.Method != tt.method {
				t.Errorf("last method = %q, want %q", seen.Method, tt.method)
			}
		})
	}
}

func TestFlapAndSwitch(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Set("/p", Flap(Status(200), Status(404)))
	want := []int{200, 404, 200}
	for i, w := range want {
		if got := get(t, s.URL()+"/p"); got != w {
			t.Errorf("request %d: %d, want %d", i, got, w)
		}
	}
	s.Set("/p", Status(410))
	if got := get(t, s.URL()+"/p"); got != 410 {
		t.Errorf("after switch: %d, want 410", got)
	}
	if got := get(t, s.URL()+"/unset"); got != 404 {
		t.Errorf("unset path: %d, want 404", got)
	}
	s.SetDefault(Status(503))
	if got := get(t, s.URL()+"/unset"); got != 503 {
		t.Errorf("unset path after SetDefault: %d, want 503", got)
	}
}

func TestHangAndClose(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Set("/hang", Hang())
	s.Set("/close", CloseConn())
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/hang", nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: err %v, want deadline exceeded", err)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", s.URL()+"/close", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("close: got a response %d", resp.StatusCode)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := StartTLS(t)
	s.Set("/p", Content([]byte("x")))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: s.ClientTLS()}}
	resp, err := c.Get(s.URL() + "/p")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("status %d tls %v, want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestListenChooseAndNoPathLog(t *testing.T) {
	t.Parallel()
	s, err := Listen("127.0.0.1:0", Options{NoPathLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// One server, many hosters: the Host header picks the answer.
	s.SetDefault(Choose(func(r *http.Request) Behaviour {
		if strings.HasPrefix(r.Host, "gone.") {
			return Status(http.StatusGone)
		}
		return Content([]byte("here"))
	}))
	for host, want := range map[string]int{"gone.test": 410, "online.test": 200} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL()+"/p", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if s.Requests() != 2 || s.Hits("/p") != 0 {
		t.Errorf("requests %d, hits %d; want 2 and no per-path log", s.Requests(), s.Hits("/p"))
	}
}
