package rdap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openrdap/rdap"
	"golang.org/x/time/rate"
)

// Limit is the politeness budget for one RDAP server.
type Limit struct {
	// PerMinute is the sustained query rate.
	PerMinute float64
	// Burst is how many queries may go at once after a quiet spell.
	Burst int
}

// DefaultLimits respects the limits registries publish: LACNIC allows 10
// queries a minute; RIPE limits personal-data lookups (ours are not, but we
// stay modest).
func DefaultLimits() map[string]Limit {
	return map[string]Limit{
		"rdap.lacnic.net":  {PerMinute: 10, Burst: 2},
		"rdap.db.ripe.net": {PerMinute: 300, Burst: 10},
	}
}

// gate is the politeness state of one server: a token bucket and the time
// before which a 429 told us not to come back.
type gate struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	until time.Time
}

func (c *Client) gateFor(host string) *gate {
	c.gatesMu.Lock()
	defer c.gatesMu.Unlock()
	g, ok := c.gates[host]
	if !ok {
		l, found := c.cfg.Limits[host]
		if !found {
			l = c.cfg.DefaultLimit
		}
		g = &gate{lim: rate.NewLimiter(rate.Limit(l.PerMinute/60), max(l.Burst, 1))}
		c.gates[host] = g
	}
	return g
}

// wait blocks until the server may be asked again.
func (g *gate) wait(ctx context.Context, now time.Time) error {
	g.mu.Lock()
	pause := g.until.Sub(now)
	g.mu.Unlock()
	if pause > 0 {
		if err := sleep(ctx, pause); err != nil {
			return err
		}
	}
	return g.lim.Wait(ctx)
}

func (g *gate) block(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rewrite applies the base-URL overrides (longest matching prefix wins) and
// returns the URL to ask and the host the answer is credited to and rate
// limited under: the original one, so limits and audit name real servers.
func (c *Client) rewrite(raw string) (target, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("parse rdap url: %w", errMalformed)
	}
	host = u.Host
	best := ""
	for from := range c.cfg.Overrides {
		if from == "*" {
			continue
		}
		if (strings.HasPrefix(raw, from) || from == host) && len(from) > len(best) {
			best = from
		}
	}
	if best == "" {
		// A mirror's answers link to the mirror itself: credit them to
		// the server it stands in for, as if the link had named it.
		if orig := c.mirrored(raw); orig != "" {
			return raw, orig, nil
		}
		// "*" sends every other server to one mirror (the simulation's
		// stand-in, or a proxy), so nothing goes where the map does not say.
		if to, ok := c.cfg.Overrides["*"]; ok {
			return strings.TrimSuffix(to, "/") + u.EscapedPath() + queryOf(u), host, nil
		}
		return raw, host, nil
	}
	to := c.cfg.Overrides[best]
	if best == host {
		return strings.TrimSuffix(to, "/") + u.EscapedPath() + queryOf(u), host, nil
	}
	return to + strings.TrimPrefix(raw, best), host, nil
}

// mirrored returns the original host of the override whose replacement
// raw points into (longest replacement wins, then the smallest original,
// so the answer does not depend on map order), or "".
func (c *Client) mirrored(raw string) string {
	bestTo, bestFrom := "", ""
	for from, to := range c.cfg.Overrides {
		if to == "" || !strings.HasPrefix(raw, to) {
			continue
		}
		if len(to) > len(bestTo) || (len(to) == len(bestTo) && from < bestFrom) {
			bestTo, bestFrom = to, from
		}
	}
	if bestFrom == "" {
		return ""
	}
	if u, err := url.Parse(bestFrom); err == nil && u.Host != "" {
		return u.Host
	}
	return bestFrom
}

func queryOf(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// get fetches one RDAP object with politeness and retries and returns the
// decoded openrdap object and the crediting host. Only https is retried:
// over plain http an attacker on the path could make us loop.
func (c *Client) get(ctx context.Context, raw, class string) (any, string, error) {
	target, host, err := c.rewrite(raw)
	if err != nil {
		return nil, "", err
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, host, fmt.Errorf("parse rdap url: %w", errMalformed)
	}
	g := c.gateFor(host)
	for attempt := 1; ; attempt++ {
		if err := g.wait(ctx, c.now()); err != nil {
			return nil, host, &Error{Server: host, Retryable: true, Err: fmt.Errorf("wait for rate limit: %w", err)}
		}
		obj, retryAfter, err := c.attempt(ctx, u, host, class)
		c.metrics.query(host, err)
		if err == nil || errors.Is(err, ErrNotFound) || !IsRetryable(err) {
			return obj, host, err
		}
		if u.Scheme != "https" || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return nil, host, err
		}
		delay := c.backoff(attempt)
		if retryAfter > 0 {
			delay = min(retryAfter, c.cfg.MaxRetryAfter)
			g.block(c.now().Add(delay))
		}
		c.log.Debug("rdap retry", "server", host, "attempt", attempt, "delay", delay, "err", err)
		if err := sleep(ctx, delay); err != nil {
			return nil, host, &Error{Server: host, Retryable: true, Err: fmt.Errorf("wait for retry: %w", err)}
		}
	}
}

// backoff is exponential with full jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 16)
	d = min(d, c.cfg.BackoffMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// attempt makes one request with a fresh openrdap client (the library's
// Client is not safe for concurrent use) under its own deadline.
func (c *Client) attempt(ctx context.Context, u *url.URL, host, class string) (any, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	client := &rdap.Client{HTTP: c.http, UserAgent: c.cfg.UserAgent}
	req := rdap.NewRawRequest(u).WithContext(ctx)
	resp, err := client.Do(req)
	if resp == nil || len(resp.HTTP) == 0 || resp.HTTP[0].Response == nil {
		return nil, 0, &Error{Server: host, Retryable: true, Err: fmt.Errorf("get %s: %w", class, transportErr(err))}
	}
	hr := resp.HTTP[0]
	status := hr.Response.StatusCode
	switch {
	case status == http.StatusNotFound:
		return nil, 0, ErrNotFound
	case status == http.StatusTooManyRequests:
		return nil, retryAfter(hr.Response.Header.Get("Retry-After"), c.now()), &Error{Server: host, Status: status, Retryable: true, Err: errors.New("rate limited")}
	case status >= 500:
		return nil, 0, &Error{Server: host, Status: status, Retryable: true, Err: errors.New("server error")}
	case status < 200 || status > 299:
		return nil, 0, &Error{Server: host, Status: status, Err: errors.New("unexpected status")}
	case hr.Error != nil:
		return nil, 0, &Error{Server: host, Status: status, Err: fmt.Errorf("read %s: %w", class, hr.Error)}
	}
	obj := resp.Object
	if _, isHelp := obj.(*rdap.Help); isHelp {
		if obj, err = decodeObject(hr.Body, class); err != nil {
			return nil, 0, &Error{Server: host, Status: status, Err: err}
		}
	}
	if e, ok := obj.(*rdap.Error); ok {
		return nil, 0, rdapError(host, e)
	}
	return obj, 0, nil
}

func transportErr(err error) error {
	if err == nil {
		return errors.New("no response")
	}
	return err
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
