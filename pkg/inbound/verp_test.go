package inbound

import (
	"strings"
	"testing"

	"github.com/takedownd/takedownd/pkg/takedown"
	"github.com/takedownd/takedownd/pkg/verp"
)

func testSigner(t testing.TB) *verp.Signer {
	t.Helper()
	s, err := verp.New("abuse@hotline.example", []byte("verp test secret, 32 bytes long!"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bareBounce is a text bounce that returns nothing of the original: only
// its envelope recipient (our VERP address, as the MX writes it into
// Delivered-To) can say which notice failed.
func bareBounce(to string) []byte {
	return []byte("Return-Path: <>\r\nDelivered-To: " + to + "\r\nFrom: MAILER-DAEMON@mx.hoster-b.nl\r\nTo: " + to +
		"\r\nSubject: failure notice\r\nMessage-ID: <bare-" + to + ">\r\n\r\n" +
		"Hi. This is the qmail-send program at mx.hoster-b.nl.\r\nI'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n" +
		"<abuse@hoster-b.nl>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n")
}

func TestVERPMatchesABounceThatQuotesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.in.Ingest(t.Context(), bareBounce(f.verp.Address(refB)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != refB || res.MatchedBy != "verp" || res.Kind != KindBounce || res.Suspicious != "" {
		t.Fatalf("result %+v, want %s matched by verp as a bounce", res, refB)
	}
	evs := f.events(t, caseB, takedown.EventNoticeFailed)
	if len(evs) != 1 {
		t.Fatalf("%d notice_failed events on %s, want 1", len(evs), caseB)
	}
	if !strings.Contains(string(evs[0].Data), `"reason":"userunknown"`) {
		t.Errorf("event data %s lacks the reason", evs[0].Data)
	}
	// Verified and gone for good: failing for every case, until a person
	// writes from the address.
	if got := f.marked(t, "abuse@hoster-b.nl"); len(got) != 1 {
		t.Fatalf("marked %v, want abuse@hoster-b.nl failing for every case", got)
	}
	reply := "From: abuse@hoster-b.nl\r\nTo: abuse+" + refB + "@hotline.example\r\nSubject: Re: [" + refB + "]\r\nMessage-ID: <r1@hoster-b.nl>\r\n\r\nWe fixed our mailbox and removed the file.\r\n"
	if _, err := f.in.Ingest(t.Context(), []byte(reply)); err != nil {
		t.Fatal(err)
	}
	if got := f.marked(t, "abuse@hoster-b.nl"); len(got) != 0 {
		t.Errorf("marked %v after a reply from the address, want the mark dropped", got)
	}
}

func TestVERPForgedTagIsNotMatchedAndIsSuspicious(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.verp.Address(refB)
	forged := good[:strings.LastIndexByte(good, '-')+1] + "0123456789ab@hotline.example"
	res, err := f.in.Ingest(t.Context(), bareBounce(forged))
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != KindUnmatched || res.Ref != "" {
		t.Fatalf("result %+v, want unmatched: a forged tag matches nothing", res)
	}
	if res.Suspicious == "" || !strings.Contains(res.Reason, "did not make") {
		t.Errorf("result %+v, want it marked suspicious", res)
	}
	if evs := f.events(t, caseB, takedown.EventNoticeFailed); len(evs) != 0 {
		t.Errorf("forged bounce recorded %d events on %s", len(evs), caseB)
	}
	if got := f.marked(t, "abuse@hoster-b.nl"); len(got) != 0 {
		t.Errorf("a forged VERP tag marked %v failing", got)
	}
}
