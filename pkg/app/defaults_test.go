package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
	"github.com/takedownd/takedownd/pkg/probe"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
)

// The config carries the registries' published limits itself, so that a
// partial override merges with them; they must stay those rdap knows.
func TestConfigRDAPLimitsAreTheBuiltInOnes(t *testing.T) {
	t.Parallel()
	got := rdapConfig(config.Default().Enrich.RDAP).Limits
	if !maps.Equal(got, rdap.DefaultLimits()) {
		t.Errorf("config default limits %v, rdap.DefaultLimits %v", got, rdap.DefaultLimits())
	}
	if rdapConfig(config.EnrichRDAP{}).Limits == nil {
		t.Error("no configured limits became nil: rdap would put its built-in ones back")
	}
}

func TestConfigProbeDefaultsAreTheProbersOwn(t *testing.T) {
	t.Parallel()
	p := config.Default().Recheck.Probe
	if p.UserAgent != probe.DefaultUserAgent || p.MaxBodyBytes != probe.DefaultMaxBodyBytes || p.MaxRedirects != probe.DefaultMaxRedirects {
		t.Errorf("config probe defaults %+v differ from the prober's", p)
	}
}

type noResolver struct{}

func (noResolver) LookupNetIP(context.Context, string) ([]netip.Addr, error) {
	return nil, errors.New("no dns in this test")
}

// TestMaxRedirectsZeroFollowsNone runs the prober the daemon builds from
// its config against a hoster that redirects: max_redirects 0 must follow
// no redirect, where the prober's own default would follow five.
func TestMaxRedirectsZeroFollowsNone(t *testing.T) {
	t.Parallel()
	srv := hostersim.Start(t)
	srv.Set("/m", hostersim.Redirect(302, "/n"))
	srv.Set("/n", hostersim.Content([]byte("material")))
	for _, tt := range []struct {
		max           int
		wantRedirects int
		wantReason    string
	}{
		{0, 0, probe.ReasonTooManyRedirects},
		{1, 1, probe.ReasonOK},
	} {
		cfg := config.Default().Recheck.Probe
		cfg.MaxRedirects = tt.max
		cfg.AllowPrivate = true
		cfg.PerHostRate = -1
		cfg.ConnectTo = map[string]string{"hoster.test:80": srv.Addr()}
		p, err := probe.New(probeConfig(cfg), slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now, noResolver{})
		if err != nil {
			t.Fatal(err)
		}
		res := p.Probe(t.Context(), probe.Request{URL: "http://hoster.test/m"})
		p.Close()
		if res.Redirects != tt.wantRedirects || res.Reason != tt.wantReason {
			t.Errorf("max_redirects %d: %d redirects, reason %s; want %d, %s", tt.max, res.Redirects, res.Reason, tt.wantRedirects, tt.wantReason)
		}
	}
}
