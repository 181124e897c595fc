package rdap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openrdap/rdap"

	"github.com/takedownd/takedownd/pkg/retryafter"
)

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
// decoded openrdap object and the crediting host. A server that answers
// 429 (or 503) with Retry-After is not asked again by anyone before that
// time, whatever the scheme; without the header the pause is our backoff.
// Only https is retried within the lookup: over plain http an attacker on
// the path could keep us asking, so there the lookup fails and a later one
// asks again (after the pause).
func (c *Client) get(ctx context.Context, raw, class string) (any, string, error) {
	target, host, err := c.rewrite(raw)
	if err != nil {
		return nil, "", err
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, host, fmt.Errorf("parse rdap url: %w", errMalformed)
	}
	lim := c.limitFor(host)
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx, host, lim); err != nil {
			return nil, host, &Error{Server: host, Retryable: true, Err: fmt.Errorf("wait for rate limit: %w", err)}
		}
		obj, pause, err := c.attempt(ctx, u, host, class)
		c.metrics.query(host, err)
		if err == nil || errors.Is(err, ErrNotFound) || !IsRetryable(err) {
			return obj, host, err
		}
		delay := c.backoff(attempt)
		if pause.asked {
			delay = min(pause.wait, c.cfg.MaxRetryAfter)
		}
		if pause.asked || pause.limited {
			c.block(ctx, host, c.now().Add(delay))
		}
		if u.Scheme != "https" || attempt >= c.cfg.MaxAttempts || ctx.Err() != nil {
			return nil, host, err
		}
		c.log.Debug("rdap retry", "server", host, "attempt", attempt, "delay", delay, "err", err)
		if pause.asked || pause.limited {
			// The limiter holds the next Wait until the block ends.
			continue
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, host, &Error{Server: host, Retryable: true, Err: fmt.Errorf("wait for retry: %w", err)}
		}
	}
}

// limitFor is the budget of a server host.
func (c *Client) limitFor(host string) Limit {
	if l, ok := c.cfg.Limits[host]; ok {
		return l
	}
	return c.cfg.DefaultLimit
}

// block keeps everyone from asking host before until; failing to share the
// block costs only politeness, so it is logged, not returned.
func (c *Client) block(ctx context.Context, host string, until time.Time) {
	if err := c.limiter.Block(ctx, host, until); err != nil && ctx.Err() == nil {
		c.log.Warn("rdap block server", "server", host, "err", err)
	}
}

// pause is what an answer said about asking again.
type pause struct {
	// wait is the Retry-After, when asked is set.
	wait  time.Duration
	asked bool
	// limited is set for 429: the server wants fewer questions, with or
	// without Retry-After.
	limited bool
}

// backoff is exponential with full jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 16)
	d = min(d, c.cfg.BackoffMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// attempt makes one request with a fresh openrdap client (the library's
// Client is not safe for concurrent use) under its own deadline.
func (c *Client) attempt(ctx context.Context, u *url.URL, host, class string) (any, pause, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	client := &rdap.Client{HTTP: c.http, UserAgent: c.cfg.UserAgent}
	req := rdap.NewRawRequest(u).WithContext(ctx)
	resp, err := client.Do(req)
	if resp == nil || len(resp.HTTP) == 0 || resp.HTTP[0].Response == nil {
		return nil, pause{}, &Error{Server: host, Retryable: true, Err: fmt.Errorf("get %s: %w", class, transportErr(err))}
	}
	hr := resp.HTTP[0]
	status := hr.Response.StatusCode
	var p pause
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		p.wait, p.asked = retryafter.Parse(hr.Response.Header.Get("Retry-After"), c.now())
		p.limited = status == http.StatusTooManyRequests
	}
	switch {
	case status == http.StatusNotFound:
		return nil, p, ErrNotFound
	case status == http.StatusTooManyRequests:
		return nil, p, &Error{Server: host, Status: status, Retryable: true, Err: errors.New("rate limited")}
	case status >= 500:
		return nil, p, &Error{Server: host, Status: status, Retryable: true, Err: errors.New("server error")}
	case status < 200 || status > 299:
		return nil, p, &Error{Server: host, Status: status, Err: errors.New("unexpected status")}
	case hr.Error != nil:
		return nil, p, &Error{Server: host, Status: status, Err: fmt.Errorf("read %s: %w", class, hr.Error)}
	}
	obj := resp.Object
	if _, isHelp := obj.(*rdap.Help); isHelp {
		if obj, err = decodeObject(hr.Body, class); err != nil {
			return nil, p, &Error{Server: host, Status: status, Err: err}
		}
	}
	if e, ok := obj.(*rdap.Error); ok {
		err := rdapError(host, e)
		var re *Error
		if errors.As(err, &re) && re.Status == http.StatusTooManyRequests {
			// A 200 carrying an RDAP error 429: as limited as a 429.
			p.limited = true
		}
		return nil, p, err
	}
	return obj, p, nil
}

func transportErr(err error) error {
	if err == nil {
		return errors.New("no response")
	}
	return err
}
