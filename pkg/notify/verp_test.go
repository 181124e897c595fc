package notify

import (
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
)

// TestEnvelopeSenderIsTheNoticesVERPAddress: the relay (a real go-smtp
// server) sees MAIL FROM carrying the notice reference and a tag that
// verifies, while the header From stays notify.from.
func TestEnvelopeSenderIsTheNoticesVERPAddress(t *testing.T) {
	t.Parallel()
	signer, err := verp.New("abuse@hotline.example", []byte("notify verp test secret, 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessTB(t, nil, nil, func(o *Options) { o.VERP = signer })
	h.enrichedCase("http://host.example.nl/a.jpg", takedown.PriorityHigh, "abuse@hoster.nl")
	msgs := h.waitMessages(1)
	ref, ok, isVERP := signer.Parse(msgs[0].From)
	if !isVERP || !ok {
		t.Fatalf("MAIL FROM %q is no verifying VERP address", msgs[0].From)
	}
	if id := header(t, msgs[0].Data, "Message-Id"); !strings.Contains(id, ref) {
		t.Errorf("VERP reference %s is not the notice's (Message-Id %s)", ref, id)
	}
	if from := header(t, msgs[0].Data, "From"); !strings.Contains(from, "abuse@hotline.example") || strings.Contains(from, "bounce-") {
		t.Errorf("header From %q, want notify.from", from)
	}
}
