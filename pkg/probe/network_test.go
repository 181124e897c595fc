package probe

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type errResolver struct{ err error }

func (e errResolver) LookupNetIP(context.Context, string) ([]netip.Addr, error) {
	return nil, e.err
}

func TestProbeNetworkVerdicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		resolver  Resolver
		connectTo func(t *testing.T) map[string]string
		verdict   Verdict
		reason    string
	}{
		{"nxdomain", fakeResolver{}, nil, Gone, ReasonNXDomain},
		{"servfail", errResolver{&net.DNSError{Err: "server misbehaving", Name: "gone.test", IsTemporary: true}}, nil, Inconclusive, ReasonDNS},
		{"dns timeout", errResolver{&net.DNSError{Err: "i/o timeout", Name: "gone.test", IsTimeout: true}}, nil, Inconclusive, ReasonTimeout},
		{"connection refused", fakeResolver{}, func(t *testing.T) map[string]string {
			return map[string]string{"gone.test:80": closedAddr(t)}
		}, Gone, ReasonConnRefused},
		{"connection refused by name", fakeResolver{"gone.test": {netip.MustParseAddr("127.0.0.1")}}, func(t *testing.T) map[string]string {
			_, port, _ := net.SplitHostPort(closedAddr(t))
			return map[string]string{"gone.test:80": "gone.test:" + port}
		}, Gone, ReasonConnRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{AllowPrivate: true}
			if tt.connectTo != nil {
				cfg.ConnectTo = tt.connectTo(t)
			}
			p := newTestProber(t, cfg, tt.resolver)
			got := p.Probe(t.Context(), Request{URL: "http://gone.test/m"})
			checkResult(t, got, tt.verdict, tt.reason)
		})
	}
}

func TestProbeTLS(t *testing.T) {
	t.Parallel()
	srv := hostersim.StartTLS(t)
	srv.Set("/m", hostersim.Content([]byte("material")))
	tests := []struct {
		name    string
		url     string
		trust   bool
		verdict Verdict
		reason  string
		tlsErr  bool
	}{
		{"verified", "https://www.example.com/m", true, Online, ReasonOK, false},
		{"unknown authority", "https://www.example.com/m", false, Inconclusive, ReasonTLS, true},
		{"name mismatch", "https://hoster.test/m", true, Inconclusive, ReasonTLS, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{
				AllowPrivate: true,
				ConnectTo:    map[string]string{"www.example.com:443": srv.Addr(), "hoster.test:443": srv.Addr()},
			}
			if tt.trust {
				cfg.TLS = srv.ClientTLS()
			}
			p := newTestProber(t, cfg, nil)
			got := p.Probe(t.Context(), Request{URL: tt.url})
			checkResult(t, got, tt.verdict, tt.reason)
			if (got.TLSError != "") != tt.tlsErr {
				t.Errorf("TLSError = %q, want set: %v", got.TLSError, tt.tlsErr)
			}
		})
	}
}

func TestNewRejectsBadConnectTo(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]string{
		{"hoster.test": "127.0.0.1:80"},
		{"hoster.test:80": "127.0.0.1"},
	} {
		if _, err := New(Config{ConnectTo: m}, discardLogger(), newStepClock().Now, fakeResolver{}); err == nil {
			t.Errorf("New accepted connect_to %v", m)
		}
	}
}
