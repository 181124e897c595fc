package probe

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// hosterProber maps the test's host names onto srv and allows loopback,
// the way staging runs.
func hosterProber(tb testing.TB, srv *hostersim.Server, cfg Config) *Prober {
	tb.Helper()
	cfg.AllowPrivate = true
	cfg.ConnectTo = map[string]string{
		"hoster.test:80":       srv.Addr(),
		"www.hoster.test:80":   srv.Addr(),
		"elsewhere.example:80": srv.Addr(),
	}
	return newTestProber(tb, cfg, nil)
}

func TestProbeVerdicts(t *testing.T) {
	t.Parallel()
	material := bytes.Repeat([]byte("material "), 1000)
	other := []byte("a different file")
	type want struct {
		verdict   Verdict
		reason    string
		method    string
		status    int
		redirects int
		hits      int64 // requests to /m, -1 to skip
	}
	tests := []struct {
		name   string
		routes map[string]hostersim.Behaviour
		url    string
		hashes Hashes
		cfg    Config
		want   want
	}{
		{"online by HEAD", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", Hashes{},
			Config{}, want{Online, ReasonOK, "HEAD", 200, 0, 1}},
		{"online by sha256", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", Hashes{SHA256: hashesOf(material).SHA256},
			Config{}, want{Online, ReasonHashMatch, "GET", 200, 0, 2}},
		{"online by md5 and sha1", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", Hashes{MD5: hashesOf(material).MD5, SHA1: hashesOf(material).SHA1},
			Config{}, want{Online, ReasonHashMatch, "GET", 200, 0, 2}},
		{"hash mismatch", map[string]hostersim.Behaviour{"/m": hostersim.Content(other)}, "", hashesOf(material),
			Config{}, want{Gone, ReasonHashMismatch, "GET", 200, 0, 2}},
		{"one of three hashes differs", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", Hashes{MD5: hashesOf(material).MD5, SHA256: hashesOf(other).SHA256},
			Config{}, want{Gone, ReasonHashMismatch, "GET", 200, 0, 2}},
		{"404", map[string]hostersim.Behaviour{"/m": hostersim.Status(404)}, "", Hashes{},
			Config{}, want{Gone, ReasonHTTP404, "HEAD", 404, 0, 1}},
		{"404 with hashes needs no GET", map[string]hostersim.Behaviour{"/m": hostersim.Status(404)}, "", hashesOf(material),
			Config{}, want{Gone, ReasonHTTP404, "HEAD", 404, 0, 1}},
		{"410", map[string]hostersim.Behaviour{"/m": hostersim.Status(410)}, "", Hashes{},
			Config{}, want{Gone, ReasonHTTP410, "HEAD", 410, 0, 1}},
		{"451", map[string]hostersim.Behaviour{"/m": hostersim.Status(451)}, "", Hashes{},
			Config{}, want{Gone, ReasonHTTP451, "HEAD", 451, 0, 1}},
		{"500 retried as GET", map[string]hostersim.Behaviour{"/m": hostersim.Status(500)}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonHTTP5xx, "GET", 500, 0, 2}},
		{"503", map[string]hostersim.Behaviour{"/m": hostersim.Status(503)}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonHTTP5xx, "GET", 503, 0, 2}},
		{"429 not retried", map[string]hostersim.Behaviour{"/m": hostersim.Status(429)}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonHTTP429, "HEAD", 429, 0, 1}},
		{"403", map[string]hostersim.Behaviour{"/m": hostersim.Status(403)}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonHTTP403, "GET", 403, 0, 2}},
		{"HEAD not allowed then GET online", map[string]hostersim.Behaviour{"/m": hostersim.HeadNotAllowed(hostersim.Content(material))}, "", Hashes{},
			Config{}, want{Online, ReasonOK, "GET", 206, 0, 2}},
		{"HEAD 501 then GET 404", map[string]hostersim.Behaviour{"/m": hostersim.HeadStatus(501, hostersim.Status(404))}, "", Hashes{},
			Config{}, want{Gone, ReasonHTTP404, "GET", 404, 0, 2}},
		{"HEAD 500 then GET online", map[string]hostersim.Behaviour{"/m": hostersim.HeadStatus(500, hostersim.Content(material))}, "", Hashes{},
			Config{}, want{Online, ReasonOK, "GET", 206, 0, 2}},
		{"redirect within site", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(301, "/n"), "/n": hostersim.Content(material)}, "", Hashes{},
			Config{}, want{Online, ReasonOK, "HEAD", 200, 1, 1}},
		{"redirect to other site's page", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "http://elsewhere.example/n"), "/n": hostersim.Content(material)}, "", Hashes{},
			Config{}, want{Online, ReasonOK, "HEAD", 200, 1, 1}},
		{"redirect to other site's root", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "http://elsewhere.example/"), "/": hostersim.Content(other)}, "", Hashes{},
			Config{}, want{Gone, ReasonRedirectOffsite, "HEAD", 200, 1, 1}},
		{"redirect to other site's empty path", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(307, "http://elsewhere.example"), "/": hostersim.Content(other)}, "", Hashes{},
			Config{}, want{Gone, ReasonRedirectOffsite, "HEAD", 200, 1, 1}},
		{"redirect to own root", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(301, "/?removed=1"), "/": hostersim.Content(other)}, "", Hashes{},
			Config{}, want{Gone, ReasonRedirectRoot, "HEAD", 200, 1, 1}},
		{"redirect to subdomain root is own root", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(301, "http://www.hoster.test/"), "/": hostersim.Content(other)}, "", Hashes{},
			Config{}, want{Gone, ReasonRedirectRoot, "HEAD", 200, 1, 1}},
		{"root to www root stays online", map[string]hostersim.Behaviour{"/": hostersim.Flap(hostersim.Redirect(301, "http://www.hoster.test/"), hostersim.Content(material))}, "http://hoster.test/", Hashes{},
			Config{}, want{Online, ReasonOK, "HEAD", 200, 1, -1}},
		{"redirect loop bounded", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "/m")}, "", Hashes{},
			Config{MaxRedirects: 3}, want{Inconclusive, ReasonTooManyRedirects, "HEAD", 302, 3, 4}},
		{"redirects off", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "/n"), "/n": hostersim.Content(material)}, "", Hashes{},
			Config{MaxRedirects: -1}, want{Inconclusive, ReasonTooManyRedirects, "HEAD", 302, 0, 1}},
		{"redirect to ftp", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "ftp://hoster.test/m")}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonBadRedirect, "HEAD", 302, 0, 1}},
		{"redirect to unknown host", map[string]hostersim.Behaviour{"/m": hostersim.Redirect(302, "http://unknown.test/m")}, "", Hashes{},
			Config{}, want{Gone, ReasonNXDomain, "HEAD", 0, 1, 1}},
		{"hang", map[string]hostersim.Behaviour{"/m": hostersim.Hang()}, "", Hashes{},
			Config{ProbeTimeout: 200 * time.Millisecond}, want{Inconclusive, ReasonTimeout, "HEAD", 0, 0, 1}},
		{"connection closed", map[string]hostersim.Behaviour{"/m": hostersim.CloseConn()}, "", Hashes{},
			Config{}, want{Inconclusive, ReasonNetwork, "HEAD", 0, 0, -1}},
		{"too large by Content-Length", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", hashesOf(material),
			Config{MaxBodyBytes: 100}, want{Inconclusive, ReasonTooLarge, "GET", 200, 0, 2}},
		{"too large while streaming", map[string]hostersim.Behaviour{"/m": hostersim.Chunked(material)}, "", hashesOf(material),
			Config{MaxBodyBytes: 1000}, want{Inconclusive, ReasonTooLarge, "GET", 200, 0, 2}},
		{"chunked within cap", map[string]hostersim.Behaviour{"/m": hostersim.Chunked(material)}, "", hashesOf(material),
			Config{}, want{Online, ReasonHashMatch, "GET", 200, 0, 2}},
		{"encoded body proves nothing", map[string]hostersim.Behaviour{"/m": hostersim.WithHeader("Content-Encoding", "gzip", hostersim.Content(other))}, "", hashesOf(material),
			Config{}, want{Inconclusive, ReasonEncodedBody, "GET", 200, 0, 2}},
		{"bad hash in request", map[string]hostersim.Behaviour{"/m": hostersim.Content(material)}, "", Hashes{SHA256: "zz"},
			Config{}, want{Inconclusive, ReasonBadRequest, "", 0, 0, 0}},
		{"not http", nil, "file:///etc/passwd", Hashes{},
			Config{}, want{Inconclusive, ReasonBadRequest, "", 0, 0, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := hostersim.Start(t)
			for path, b := range tt.routes {
				srv.Set(path, b)
			}
			p := hosterProber(t, srv, tt.cfg)
			url := tt.url
			if url == "" {
				url = "http://hoster.test/m"
			}
			got := p.Probe(t.Context(), Request{URL: url, Hashes: tt.hashes})
			checkResult(t, got, tt.want.verdict, tt.want.reason)
			if got.Method != tt.want.method {
				t.Errorf("method = %q, want %q", got.Method, tt.want.method)
			}
			if got.StatusCode != tt.want.status {
				t.Errorf("status = %d, want %d", got.StatusCode, tt.want.status)
			}
			if got.Redirects != tt.want.redirects {
				t.Errorf("redirects = %d, want %d", got.Redirects, tt.want.redirects)
			}
			if hits := srv.Hits("/m"); tt.want.hits >= 0 && hits != tt.want.hits {
				t.Errorf("hits on /m = %d, want %d", hits, tt.want.hits)
			}
		})
	}
}

func TestProbeRecordsWhatItSaw(t *testing.T) {
	t.Parallel()
	material := []byte("the confirmed bytes")
	srv := hostersim.Start(t)
	srv.Set("/a", hostersim.Redirect(301, "/b"))
	srv.Set("/b", hostersim.Content(material))
	p := hosterProber(t, srv, Config{UserAgent: "takedownd-test/1"})

	got := p.Probe(t.Context(), Request{URL: "http://hoster.test/a", Hashes: Hashes{SHA256: hashesOf(material).SHA256}, ConfirmedHost: "192.0.2.1"})
	checkResult(t, got, Online, ReasonHashMatch)
	if got.FinalURL != "http://hoster.test/b" {
		t.Errorf("FinalURL = %q", got.FinalURL)
	}
	if got.ContentHash != hashesOf(material).SHA256 {
		t.Errorf("ContentHash = %q, want sha256 of material", got.ContentHash)
	}
	if got.Bytes != int64(len(material)) {
		t.Errorf("Bytes = %d, want %d", got.Bytes, len(material))
	}
	if got.RemoteAddr != srv.Addr() {
		t.Errorf("RemoteAddr = %q, want %q", got.RemoteAddr, srv.Addr())
	}
	if !got.HostChanged {
		t.Errorf("HostChanged = false for confirmed 192.0.2.1, remote %s", got.RemoteAddr)
	}
	if got.CheckedAt.IsZero() {
		t.Errorf("CheckedAt not set")
	}
	seen, _ := srv.Last("/b")
	if seen.UserAgent != "takedownd-test/1" || seen.Method != http.MethodGet || seen.Range != "" {
		t.Errorf("last request = %+v, want GET without Range and the configured User-Agent", seen)
	}
}

func TestProbeRangeWithoutHashes(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/m", hostersim.HeadNotAllowed(hostersim.Content(bytes.Repeat([]byte("x"), 1<<20))))
	p := hosterProber(t, srv, Config{})

	got := p.Probe(t.Context(), Request{URL: "http://hoster.test/m"})
	checkResult(t, got, Online, ReasonOK)
	seen, ok := srv.Last("/m")
	if !ok || seen.Method != http.MethodGet || seen.Range != "bytes=0-0" {
		t.Errorf("last request = %+v, want GET with Range bytes=0-0", seen)
	}
	if got.Bytes > 1 {
		t.Errorf("read %d bytes of a 1 MiB file, want at most 1", got.Bytes)
	}
	if !strings.HasPrefix(seen.UserAgent, "takedownd/1 ") {
		t.Errorf("default User-Agent = %q", seen.UserAgent)
	}
}

// TestProbeSwitchingHoster walks one URL through the life of a case: up,
// flapping, gone.
func TestProbeSwitchingHoster(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	p := hosterProber(t, srv, Config{})
	req := Request{URL: "http://hoster.test/m"}
	steps := []struct {
		name   string
		set    *hostersim.Behaviour
		reason string
	}{
		{"up", ptr(hostersim.Content([]byte("x"))), ReasonOK},
		{"flap first", ptr(hostersim.Flap(hostersim.Status(404), hostersim.Content([]byte("x")))), ReasonHTTP404},
		{"flap second", nil, ReasonOK},
		{"flap third", nil, ReasonHTTP404},
		{"removed", ptr(hostersim.Status(410)), ReasonHTTP410},
	}
	for _, s := range steps {
		if s.set != nil {
			srv.Set("/m", *s.set)
		}
		got := p.Probe(t.Context(), req)
		if got.Reason != s.reason {
			t.Errorf("%s: reason %q, want %q", s.name, got.Reason, s.reason)
		}
	}
}

func ptr[T any](v T) *T { return &v }
