package webhooksim

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/notify/webhook"
)

func TestReceiver(t *testing.T) {
	t.Parallel()
	secret := []byte("k")
	r := New(secret, time.Now, time.Minute)
	t.Cleanup(r.Close)
	r.FailNext(2, http.StatusServiceUnavailable, "3")
	post := func(sig string) *http.Response {
		t.Helper()
		body := []byte(`{}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, r.URL(), bytes.NewReader(body))
		req.Header.Set(webhook.HeaderTimestamp, ts)
		if sig == "" {
			sig = webhook.Sign(secret, ts, body)
		}
		req.Header.Set(webhook.HeaderSignature, sig)
		req.Header.Set(webhook.HeaderIdempotency, "TD-1")
		resp, err := r.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name       string
		sig        string
		wantStatus int
		wantRetry  string
	}{
		{name: "first canned failure", wantStatus: 503, wantRetry: "3"},
		{name: "second canned failure", wantStatus: 503, wantRetry: "3"},
		{name: "bad signature", sig: "sha256=00", wantStatus: 401},
		{name: "accepted", wantStatus: 202},
	}
	for _, tt := range tests {
		resp := post(tt.sig)
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.wantRetry {
			t.Errorf("%s: status %d retry-after %q, want %d %q", tt.name, resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantStatus, tt.wantRetry)
		}
	}
	total, bad := r.Requests()
	if total != 4 || bad != 1 || len(r.Deliveries()) != 1 {
		t.Errorf("requests %d bad %d deliveries %d, want 4 1 1", total, bad, len(r.Deliveries()))
	}
}
