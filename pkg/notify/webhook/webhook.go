// Package webhook forwards cases to a partner hotline over HTTPS: a JSON body
// signed with a per-partner secret, an idempotency key equal to the notice
// reference, and retries with backoff on answers that may go better later.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/takedownd/takedownd/pkg/retryafter"
)

// Config configures a Forwarder for one partner.
type Config struct {
	URL    string
	Secret []byte
	// Timeout bounds each attempt; default 10s.
	Timeout time.Duration
	// MaxAttempts is how many tries one Forward makes; default 5.
	MaxAttempts int
	// BaseBackoff is the wait after the first failure, doubled each time; default 1s.
	BaseBackoff time.Duration
	// MaxBackoff caps a wait, Retry-After included; default 1m.
	MaxBackoff time.Duration
}

// Result is the outcome of a Forward.
type Result struct {
	Status   int // last HTTP status; 0 when no answer came
	Attempts int
	// Retry says a later Forward may succeed (5xx, 429, timeouts); false
	// with Err set means the partner refused the request for good (4xx).
	Retry bool
	Err   error
}

// Forwarder posts forwards to one partner endpoint.
type Forwarder struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// New returns a Forwarder. client may be nil for http.DefaultClient's
// transport; each attempt gets its own deadline from cfg.Timeout either way.
func New(cfg Config, client *http.Client, logger *slog.Logger, now func() time.Time) (*Forwarder, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook config: url empty")
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook config: secret empty")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Forwarder{cfg: cfg, client: client, log: logger, now: now, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Forward posts body with ref as the idempotency key, retrying while the
// answers say a retry may help.
func (f *Forwarder) Forward(ctx context.Context, ref string, body []byte) Result {
	var res Result
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		status, wait, err := f.attempt(ctx, ref, body)
		res.Status, res.Err = status, err
		if err == nil {
			res.Retry = false
			return res
		}
		res.Retry = retryable(status)
		if !res.Retry {
			f.log.Error("webhook forward refused", "ref", ref, "status", status, "err", err)
			return res
		}
		if attempt >= f.cfg.MaxAttempts || ctx.Err() != nil {
			f.log.Warn("webhook forward gave up for now", "ref", ref, "attempt", attempt, "status", status, "err", err)
			return res
		}
		if wait <= 0 {
			wait = f.backoff(attempt)
		}
		f.log.Debug("webhook forward retry", "ref", ref, "attempt", attempt, "status", status, "wait", wait, "err", err)
		if err := f.sleep(ctx, min(wait, f.cfg.MaxBackoff)); err != nil {
			res.Err = errors.Join(res.Err, err)
			return res
		}
	}
}

// retryable: no answer, 408, 429 and 5xx may go better later; other 4xx not.
func retryable(status int) bool {
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// backoff is exponential with full jitter, so many forwards failing together
// do not come back together.
func (f *Forwarder) backoff(attempt int) time.Duration {
	d := f.cfg.BaseBackoff << (attempt - 1)
	if d <= 0 || d > f.cfg.MaxBackoff {
		d = f.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (f *Forwarder) attempt(ctx context.Context, ref string, body []byte) (status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 400, 0, fmt.Errorf("build webhook request: %w", err)
	}
	ts := strconv.FormatInt(f.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(f.cfg.Secret, ts, body))
	req.Header.Set(HeaderIdempotency, ref)
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, 0, nil
	}
	// A zero wait (absent, malformed, "0" or a past date) means our own
	// backoff.
	wait, _ := retryafter.Parse(resp.Header.Get("Retry-After"), f.now())
	return resp.StatusCode, wait,
		fmt.Errorf("post webhook: status %d: %q", resp.StatusCode, bytes.TrimSpace(snippet))
}
