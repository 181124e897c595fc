// Package probe checks whether material at a URL is still online, without
// ever storing what it reads. One probe is a HEAD, then a GET when the HEAD
// cannot decide or when the confirmed hashes must be compared; the body of
// that GET is streamed through the hashes and thrown away.
//
// The prober only connects to public unicast addresses, checked on the very
// address each socket connects to, so neither a URL, a DNS answer nor a
// redirect can point it at the operator's own network.
package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultUserAgent             = "takedownd/1 (+https://hotline.example/takedownd; abuse-notice re-check)"
	DefaultMaxRedirects          = 5
	DefaultMaxBodyBytes          = 64 << 20
	DefaultPerHostConcurrency    = 4
	DefaultPerHostRate           = 5.0
	DefaultPerHostBurst          = 10
	DefaultDialTimeout           = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Second
	DefaultProbeTimeout          = 30 * time.Second
)

// Config holds the prober's settings. Zero fields take the defaults above.
type Config struct {
	// UserAgent is sent on every request so hosters can see who asks and why.
	UserAgent string
	// MaxRedirects bounds the redirects followed per request. Zero takes
	// DefaultMaxRedirects; negative follows none (as net.Dialer.KeepAlive
	// tells zero from off).
	MaxRedirects int
	// MaxBodyBytes caps how much of a body is hashed. A whole-file hash
	// cannot be checked on a prefix, so a larger body is inconclusive
	// ("too_large") rather than guessed at.
	MaxBodyBytes int64
	// PerHostConcurrency caps requests in flight per host name.
	PerHostConcurrency int
	// PerHostRate caps requests started per second per host name; negative
	// means unlimited.
	PerHostRate float64
	// PerHostBurst is how many requests a rested host may get at once.
	PerHostBurst int
	// DialTimeout bounds one TCP connect.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds one TLS handshake.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers.
	ResponseHeaderTimeout time.Duration
	// ProbeTimeout bounds all network work of one probe, HEAD, GET and
	// redirects together. It starts once the first request has its
	// per-host slot, so queueing behind a host's limits does not eat it.
	ProbeTimeout time.Duration
	// AllowPrivate lets the prober connect to any address. Only for staging
	// and tests: it switches off the SSRF guard.
	AllowPrivate bool
	// AllowPrefixes are non-public ranges the prober may connect to all
	// the same, e.g. a staging network; everything else stays guarded.
	AllowPrefixes []netip.Prefix
	// ConnectTo maps "host:port" as found in URLs, or "ip:port" of an
	// address a URL's host resolves to, to the "host:port" to connect to
	// instead, like curl's --connect-to. TLS still verifies the
	// certificate against the URL's host. A target written as an IP
	// address is dialled as written, loopback included (the operator
	// chose it); a target written as a name is resolved and guarded.
	ConnectTo map[string]string
	// TLS is the client TLS configuration; nil verifies against the system
	// roots. Verification is never switched off by the prober itself.
	TLS *tls.Config
}

func (c Config) withDefaults() Config {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = DefaultMaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.PerHostConcurrency <= 0 {
		c.PerHostConcurrency = DefaultPerHostConcurrency
	}
	if c.PerHostRate == 0 {
		c.PerHostRate = DefaultPerHostRate
	}
	if c.PerHostBurst <= 0 {
		c.PerHostBurst = DefaultPerHostBurst
	}
	c.DialTimeout = orDefault(c.DialTimeout, DefaultDialTimeout)
	c.TLSHandshakeTimeout = orDefault(c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	c.ResponseHeaderTimeout = orDefault(c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	c.ProbeTimeout = orDefault(c.ProbeTimeout, DefaultProbeTimeout)
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Hashes are the confirmed content hashes of the material, in hex. Any may
// be empty; every one given must match for the material to count as online.
type Hashes struct {
	MD5    string
	SHA1   string
	SHA256 string
}

// Request is one URL to check.
type Request struct {
	// URL is the reported URL, http or https.
	URL string
	// Hashes, when any is set, make the prober fetch and hash the body.
	Hashes Hashes
	// ConfirmedHost is the IP address the material was served from when it
	// was confirmed, if known; the result notes when it changed.
	ConfirmedHost string
}

// Result is what one probe found. Nothing of the content is kept but its
// length and SHA-256.
type Result struct {
	Verdict Verdict
	// Reason is one of the Reason constants.
	Reason string
	// Method is the request method whose answer decided, HEAD or GET.
	Method string
	// StatusCode is the final HTTP status, 0 when no response came.
	StatusCode int
	// FinalURL is the URL of the last request made, after redirects.
	FinalURL string
	// Redirects is how many redirects were followed.
	Redirects int
	// RemoteAddr is the "ip:port" the final answer came from: through a
	// connect_to mapped from an address DNS gave, that address.
	RemoteAddr string
	// HostChanged is set when ConfirmedHost was given and RemoteAddr is
	// another address: the material may have moved.
	HostChanged bool
	// TLSError is the handshake or verification error, if any.
	TLSError string
	// ContentHash is the hex SHA-256 of the body read, only when hashed.
	ContentHash string
	// Bytes is how many body bytes were read.
	Bytes int64
	// Duration is how long the probe took, by the injected clock.
	Duration time.Duration
	// CheckedAt is when the probe started, by the injected clock.
	CheckedAt time.Time
}

// Prober checks URLs. It is safe for concurrent use.
type Prober struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	dialer *dialer
	tr     *http.Transport
	limits *hostLimits
}

// New builds a Prober. A nil resolver means SystemResolver; now is the
// clock for CheckedAt, Duration and the rate limiters.
func New(cfg Config, log *slog.Logger, now func() time.Time, resolver Resolver) (*Prober, error) {
	cfg = cfg.withDefaults()
	for from, to := range cfg.ConnectTo {
		if _, _, err := net.SplitHostPort(from); err != nil {
			return nil, fmt.Errorf("parse connect_to key %q: %w", from, err)
		}
		if _, _, err := net.SplitHostPort(to); err != nil {
			return nil, fmt.Errorf("parse connect_to target %q: %w", to, err)
		}
	}
	if resolver == nil {
		resolver = SystemResolver{}
	}
	policy := addrPolicy{allowAll: cfg.AllowPrivate, allow: cfg.AllowPrefixes}
	d := newDialer(resolver, cfg.ConnectTo, policy, cfg.DialTimeout)
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tlsCfg = cfg.TLS.Clone()
	}
	tr := &http.Transport{
		// Proxy stays nil: an environment proxy would dial on our behalf
		// and bypass the address check.
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   cfg.PerHostConcurrency,
		IdleConnTimeout:       90 * time.Second,
		// Hashes are of the bytes as stored, so ask for them unencoded.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &Prober{
		cfg:    cfg,
		log:    log,
		now:    now,
		dialer: d,
		tr:     tr,
		limits: newHostLimits(cfg.PerHostConcurrency, cfg.PerHostRate, cfg.PerHostBurst, now),
	}, nil
}

// Close drops idle connections.
func (p *Prober) Close() {
	p.tr.CloseIdleConnections()
}

// Probe checks req.URL once and returns what it found. It never returns an
// error: anything that goes wrong is an inconclusive verdict with a reason.
func (p *Prober) Probe(ctx context.Context, req Request) Result {
	start := p.now()
	res := p.probe(ctx, req)
	res.CheckedAt = start
	res.Duration = p.now().Sub(start)
	res.HostChanged = hostChanged(req.ConfirmedHost, res.RemoteAddr)
	if u, err := url.Parse(req.URL); err == nil {
		p.log.DebugContext(ctx, "probe done", "host", u.Hostname(), "verdict", res.Verdict,
			"reason", res.Reason, "status", res.StatusCode, "redirects", res.Redirects)
	}
	return res
}

func (p *Prober) probe(ctx context.Context, req Request) Result {
	u, err := parseTarget(req.URL)
	if err != nil {
		return Result{Verdict: Inconclusive, Reason: ReasonBadRequest, FinalURL: req.URL}
	}
	want, err := req.Hashes.decode()
	if err != nil {
		return Result{Verdict: Inconclusive, Reason: ReasonBadRequest, FinalURL: req.URL}
	}
	r := &run{p: p, ctx: ctx}
	head := r.fetch(u, http.MethodHead, nil)
	if !needGET(head, want) {
		return head
	}
	return r.fetch(u, http.MethodGet, want)
}

// needGET decides whether a HEAD answer settles the probe. A GET follows
// when hashes must be compared, and when the HEAD got an HTTP answer that
// says nothing (405, 501, other 4xx and 5xx: HEAD is often broken) — but not
// after 429, which asks us to back off, nor after network failures, which a
// GET would only repeat.
func needGET(head Result, want *wantHashes) bool {
	switch head.Verdict {
	case Online:
		return want != nil
	case Gone:
		return false
	}
	switch head.Reason {
	case ReasonHTTP5xx, ReasonHTTP4xx, ReasonHTTP403, ReasonHTTPOther:
		return true
	}
	return false
}

// parseTarget accepts absolute http and https URLs with a host.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("parse url: want absolute http(s) url, got scheme %q", u.Scheme)
	}
	return u, nil
}

func hostChanged(confirmed, remote string) bool {
	if confirmed == "" || remote == "" {
		return false
	}
	want, err := netip.ParseAddr(confirmed)
	if err != nil {
		return false
	}
	got, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return want.Unmap() != got.Addr().Unmap()
}
