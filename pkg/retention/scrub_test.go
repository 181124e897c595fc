package retention

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScrubRemovesWhatPointsAtTheMaterial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"confirmed report r-17", "confirmed report r-17"},
		{"country NL, hoster abuse@nl-hoster.nl, behind cdn Cloudflare", "country NL, hoster [redacted], behind cdn Cloudflare"},
		{"reminder 2 sent to Abuse@Mail.Example.co.uk", "reminder 2 sent to [redacted]"},
		{"notice TD-1 to abuse@x.nl bounced for good: userunknown 5.1.1 550 5.1.1 <abuse@x.nl>: Recipient address rejected", "notice TD-1 to [redacted] bounced for good: userunknown 5.1.1 550 5.1.1 <[redacted]>: Recipient address rejected"},
		{"gone: 404 at http://site.example/a.jpg?x=1", "gone: 404 at [redacted]"},
		{"material answered from 203.0.113.9, not 192.0.2.1", "material answered from [redacted], not [redacted]"},
		{"answered from 2001:db8::1 and 2001:db8:0:0:1:2:3:4", "answered from [redacted] and [redacted]"},
		{"final host www.site-with-csam.example redirected", "final host [redacted] redirected"},
		{"punycode xn--bcher-kva.example", "punycode [redacted]"},
		{"the path /images/kid.jpg was gone", "the path [redacted] was gone"},
		{"removed at 2026-01-02T10:00:00.123Z after 3 checks", "removed at 2026-01-02T10:00:00.123Z after 3 checks"},
		{"hosted in DE: forward to the partner hotline eco by email", "hosted in DE: forward to the partner hotline eco by email"},
	}
	for _, tt := range tests {
		if got := scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("word ", 200)
	if got := scrub(long); len(got) > maxKept+len("…") {
		t.Errorf("scrub kept %d bytes", len(got))
	}
}

func TestScrubDataKeepsOnlyScalarsOfKnownKeys(t *testing.T) {
	t.Parallel()
	in := `{"kind":"first","to":"abuse@h.nl","contacts":["abuse@h.nl"],"notice":"TD-9","text":"your site http://x.example/a","status":404,"hard":true,"outcome":"permanent: 550 <abuse@h.nl>","final_host":"x.example","nested":{"kind":"x"}}`
	var got map[string]any
	if err := json.Unmarshal(scrubData(json.RawMessage(in)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"kind": "first", "notice": "TD-9", "status": float64(404), "hard": true, "outcome": "permanent: 550 <[redacted]>"}
	if len(got) != len(want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if scrubData(json.RawMessage(`["abuse@h.nl"]`)) != nil || scrubData(json.RawMessage(`{"to":"x"}`)) != nil {
		t.Error("data with nothing to keep is not dropped")
	}
}
