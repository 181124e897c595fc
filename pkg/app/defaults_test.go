package app

import (
	"maps"
	"testing"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/enrich/rdap"
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
