package takedown

import "testing"

func TestDeliveryRules(t *testing.T) {
	t.Parallel()
	for _, d := range []Delivery{DeliveryGone, DeliveryFailed} {
		if r := DeliveryRules[d]; !r.NextContact || r.Wait || r.Event != EventNoticeFailed {
			t.Errorf("%s: %+v, want the next contact told now", d, r)
		}
	}
	if r := DeliveryRules[DeliveryDelayed]; !r.Wait || r.NextContact || r.MarkFailing {
		t.Errorf("delayed: %+v, want recorded and waited for", r)
	}
	for d, r := range DeliveryRules {
		if r.MarkFailing != (d == DeliveryGone) {
			t.Errorf("%s marks the address failing for every case: %v; only an address gone for good may", d, r.MarkFailing)
		}
	}
}

func TestVerified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		matchedBy  string
		verpOn     bool
		suspicious string
		want       bool
	}{
		{"VERP tag verifies", "verp", true, "", true},
		{"quoted Message-ID, VERP on", "original", true, "", false},
		{"subject reference, VERP on", "subject", true, "", false},
		{"quoted Message-ID, VERP off", "original", false, "", true},
		{"forged VERP tag", "original", true, "VERP address x carries a tag this daemon did not make", false},
		{"forged VERP tag, VERP off", "original", false, "forged", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Verified(tt.matchedBy, tt.verpOn, tt.suspicious); got != tt.want {
				t.Errorf("Verified(%q, %v, %q) = %v, want %v", tt.matchedBy, tt.verpOn, tt.suspicious, got, tt.want)
			}
		})
	}
}
