package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// drainLimit is how much of an unwanted body is read so the connection can
// be reused; past it the connection is dropped instead.
const drainLimit = 4 << 10

// run is the state of one probe across its requests: the deadline starts
// with the first request that gets its per-host slot and then covers every
// later request, redirect and body read.
type run struct {
	p        *Prober
	ctx      context.Context
	deadline time.Time
}

// fetch makes one request with method, following redirects up to the
// bound, and classifies the final answer. want non-nil means the body is
// hashed (GET only); a GET without want asks for the first byte alone.
func (r *run) fetch(orig *url.URL, method string, want *wantHashes) Result {
	cur := orig
	for hops := 0; ; hops++ {
		res := Result{Method: method, FinalURL: cur.String(), Redirects: hops}
		if err := r.checkLiteral(cur); err != nil {
			res.Verdict, res.Reason, res.TLSError = classifyError(err)
			return res
		}
		resp, remote, release, err := r.roundTrip(method, cur, want)
		res.RemoteAddr = remote
		if err != nil {
			res.Verdict, res.Reason, res.TLSError = classifyError(err)
			return res
		}
		res.StatusCode = resp.StatusCode
		loc := resp.Header.Get("Location")
		if isRedirect(resp.StatusCode) && loc != "" {
			discard(resp)
			release()
			next, reason := nextHop(cur, loc, hops, r.p.cfg.MaxRedirects)
			if reason != "" {
				res.Verdict, res.Reason = Inconclusive, reason
				return res
			}
			cur = next
			continue
		}
		r.finish(&res, resp, orig, cur, want)
		release()
		return res
	}
}

// finish classifies a final (non-redirect) response and consumes its body.
func (r *run) finish(res *Result, resp *http.Response, orig, final *url.URL, want *wantHashes) {
	defer resp.Body.Close()
	if res.Redirects > 0 {
		if reason, ok := classifyFinalURL(orig, final); ok {
			res.Verdict, res.Reason = Gone, reason
			discard(resp)
			return
		}
	}
	res.Verdict, res.Reason = classifyStatus(resp.StatusCode)
	if res.Verdict != Online || want == nil || res.Method != http.MethodGet {
		res.Bytes = discard(resp)
		return
	}
	r.hashBody(res, resp, want)
}

// nextHop resolves a Location against the current URL. It returns a reason
// when the redirect cannot be followed.
func nextHop(cur *url.URL, loc string, hops, maxHops int) (*url.URL, string) {
	if hops >= maxHops {
		return nil, ReasonTooManyRedirects
	}
	next, err := cur.Parse(loc)
	if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Hostname() == "" {
		return nil, ReasonBadRedirect
	}
	next.Fragment = ""
	// Some hosts parse but do not print back ("//::" gives "http://::"),
	// and the request is built from the printed form.
	if _, err := url.Parse(next.String()); err != nil {
		return nil, ReasonBadRedirect
	}
	return next, ""
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// checkLiteral refuses an IP-literal host before any slot is taken or
// socket opened; names are checked at dial time on what they resolve to.
func (r *run) checkLiteral(u *url.URL) error {
	a, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil
	}
	if err := r.p.dialer.policy.check(a); err != nil {
		return fmt.Errorf("check host %s: %w", u.Hostname(), err)
	}
	return nil
}

// roundTrip waits for the host's slot and sends one request. On success
// the caller must close the body and then call release; on error nothing
// is held.
func (r *run) roundTrip(method string, u *url.URL, want *wantHashes) (*http.Response, string, func(), error) {
	host := strings.ToLower(u.Hostname())
	waitCtx, cancelWait := r.ctx, context.CancelFunc(func() {})
	if !r.deadline.IsZero() {
		waitCtx, cancelWait = context.WithDeadline(r.ctx, r.deadline)
	}
	release, err := r.p.limits.acquire(waitCtx, host)
	cancelWait()
	if err != nil {
		return nil, "", nil, err
	}
	if r.deadline.IsZero() {
		// Deadlines are real time: the context machinery knows no other.
		r.deadline = time.Now().Add(r.p.cfg.ProbeTimeout)
	}
	ctx, cancel := context.WithDeadline(r.ctx, r.deadline)
	var remote string
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { remote = info.Conn.RemoteAddr().String() },
	})
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		cancel()
		release()
		return nil, "", nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", r.p.cfg.UserAgent)
	req.Header.Set("Accept", "*/*")
	if method == http.MethodGet && want == nil {
		// Only "is anything there" is asked: one byte answers it.
		req.Header.Set("Range", "bytes=0-0")
	}
	resp, err := r.p.tr.RoundTrip(req)
	if err != nil {
		cancel()
		release()
		return nil, remote, nil, fmt.Errorf("%s %s: %w", method, host, err)
	}
	return resp, remote, func() { cancel(); release() }, nil
}

// discard reads a little of an unwanted body, so that a short one frees
// the connection for reuse, closes it, and returns the bytes read.
func discard(resp *http.Response) int64 {
	n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	return n
}
