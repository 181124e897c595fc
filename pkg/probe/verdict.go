package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"golang.org/x/net/publicsuffix"
)

// Verdict is what one probe says about the material at a URL.
type Verdict string

// The three verdicts. Only gone moves a case towards removal and only
// online counts as seen; inconclusive changes nothing but is still recorded.
const (
	Online       Verdict = "online"
	Gone         Verdict = "gone"
	Inconclusive Verdict = "inconclusive"
)

// Reasons are short machine-readable causes for a verdict; they are what
// events, metrics and the status API show.
const (
	ReasonOK               = "ok"         // 2xx, no hash to compare
	ReasonHashMatch        = "hash_match" // 2xx and the body hashes as confirmed
	ReasonHTTP404          = "http_404"
	ReasonHTTP410          = "http_410"
	ReasonHTTP451          = "http_451"
	ReasonNXDomain         = "nxdomain"
	ReasonConnRefused      = "conn_refused"
	ReasonHashMismatch     = "hash_mismatch"
	ReasonRedirectOffsite  = "redirect_offsite_root"
	ReasonRedirectRoot     = "redirect_root"
	ReasonTimeout          = "timeout"
	ReasonHTTP5xx          = "http_5xx"
	ReasonHTTP429          = "http_429"
	ReasonHTTP403          = "http_403"
	ReasonHTTP4xx          = "http_4xx"
	ReasonHTTPOther        = "http_other"
	ReasonTLS              = "tls_error"
	ReasonTooManyRedirects = "too_many_redirects"
	ReasonBadRedirect      = "bad_redirect"
	ReasonTooLarge         = "too_large"
	ReasonEncodedBody      = "encoded_body"
	ReasonAddressRefused   = "address_refused"
	ReasonDNS              = "dns_error"
	ReasonNetwork          = "network_error"
	ReasonBadRequest       = "bad_request"
	ReasonCanceled         = "canceled"
	ReasonLocalLimit       = "local_limit" // our own per-host limits held the probe back
)

// statusRule maps a range of HTTP status codes to a verdict.
type statusRule struct {
	lo, hi  int
	verdict Verdict
	reason  string
}

// statusRules is the status half of the verdict table; the first match wins.
// Redirects never reach it (they are followed) and neither do 2xx answers
// whose body is hashed (the hash decides). The error half is classifyError,
// and the redirect half is classifyFinalURL.
//
//	2xx          online        the material is served
//	404 410 451  gone          the hoster says it is not there, or may not be
//	429          inconclusive  we are being rate limited, nothing is known
//	403          inconclusive  as often a bot wall as a removal; a human looks
//	other 4xx    inconclusive  (401, 416, …) nothing reliable about the material
//	5xx          inconclusive  the hoster is broken, the material may be there
//	anything else inconclusive (1xx, an unfollowed 3xx)
//	NXDOMAIN, connection refused        gone: the host itself is gone
//	timeouts, TLS errors, DNS failures,
//	resets, refused private addresses  inconclusive
//	hash differs from the confirmed one gone: other content sits at the URL
//	redirect to another site's root,
//	or to this site's root from a deeper path gone: the soft-404 of many CMSs
var statusRules = [...]statusRule{
	{200, 299, Online, ReasonOK},
	{404, 404, Gone, ReasonHTTP404},
	{410, 410, Gone, ReasonHTTP410},
	{451, 451, Gone, ReasonHTTP451},
	{429, 429, Inconclusive, ReasonHTTP429},
	{403, 403, Inconclusive, ReasonHTTP403},
	{400, 499, Inconclusive, ReasonHTTP4xx},
	{500, 599, Inconclusive, ReasonHTTP5xx},
}

// classifyStatus applies statusRules to one HTTP status code.
func classifyStatus(code int) (Verdict, string) {
	for _, r := range statusRules {
		if code >= r.lo && code <= r.hi {
			return r.verdict, r.reason
		}
	}
	return Inconclusive, ReasonHTTPOther
}

// classifyError turns a transport error into a verdict and reason, and
// returns the TLS error text when the error came from the handshake. Order
// matters: a refused connection on a public address outweighs refusing to
// dial a private one listed in the same DNS answer.
func classifyError(err error) (v Verdict, reason, tlsErr string) {
	var (
		dnsErr   *net.DNSError
		addrErr  *AddressError
		certErr  *tls.CertificateVerificationError
		unkErr   x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		netErr   net.Error
	)
	switch {
	case errors.Is(err, errLimitWait):
		return Inconclusive, ReasonLocalLimit, ""
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return Gone, ReasonNXDomain, ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return Gone, ReasonConnRefused, ""
	case errors.As(err, &certErr), errors.As(err, &unkErr), errors.As(err, &hostErr),
		errors.As(err, &invErr), errors.As(err, &recErr), errors.As(err, &alertErr):
		return Inconclusive, ReasonTLS, err.Error()
	case errors.As(err, &addrErr):
		return Inconclusive, ReasonAddressRefused, ""
	case errors.Is(err, context.Canceled):
		return Inconclusive, ReasonCanceled, ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return Inconclusive, ReasonTimeout, ""
	case errors.As(err, &dnsErr):
		return Inconclusive, ReasonDNS, ""
	}
	return Inconclusive, ReasonNetwork, ""
}

// classifyFinalURL reports whether a redirect chain from orig ended at a
// site root, which hosters use instead of a 404. It returns ok=false when
// the final URL says nothing (no redirect, or not a root).
func classifyFinalURL(orig, final *url.URL) (reason string, ok bool) {
	if !isRoot(final) {
		return "", false
	}
	if site(orig.Hostname()) != site(final.Hostname()) {
		return ReasonRedirectOffsite, true
	}
	if !isRoot(orig) {
		return ReasonRedirectRoot, true
	}
	return "", false
}

// isRoot reports whether u points at a site's front page; the query is
// ignored because "/?from=removed" is still the front page.
func isRoot(u *url.URL) bool {
	return u.EscapedPath() == "" || u.EscapedPath() == "/"
}

// site returns the registrable domain of host (example.co.uk for
// a.b.example.co.uk), or the host itself for IP literals and names the
// public suffix list cannot place.
func site(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return s
}
