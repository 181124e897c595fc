package dns

import (
	"errors"
	"net"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

func cname(owner, target string) mdns.RR {
	return &mdns.CNAME{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypeCNAME, Class: mdns.ClassINET, Ttl: 60}, Target: target}
}

func aRR(owner, ip string, ttl uint32) mdns.RR {
	return &mdns.A{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)}
}

// TestInterpret covers answers a well-behaved server never sends but a
// hostile or broken one might.
func TestInterpret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rcode     int
		answer    []mdns.RR
		wantAddrs int
		wantChain []string
		wantErr   error
	}{
		{"loop inside one answer", mdns.RcodeSuccess,
			[]mdns.RR{cname("h.test.", "b.test."), cname("b.test.", "h.test.")}, 0, []string{"b.test."}, ErrCNAMELoop},
		{"address of an unrelated name ignored", mdns.RcodeSuccess,
			[]mdns.RR{aRR("bank.test.", "192.0.2.66", 60)}, 0, nil, nil},
		{"address at the end of the chain only", mdns.RcodeSuccess,
			[]mdns.RR{aRR("other.test.", "192.0.2.66", 60), cname("h.test.", "e.test."), aRR("e.test.", "192.0.2.1", 60)},
			1, []string{"e.test."}, nil},
		{"duplicate addresses once", mdns.RcodeSuccess,
			[]mdns.RR{aRR("h.test.", "192.0.2.1", 60), aRR("H.TEST.", "192.0.2.1", 30)}, 1, nil, nil},
		{"nxdomain with addresses is an answer", mdns.RcodeNameError,
			[]mdns.RR{aRR("h.test.", "192.0.2.1", 60)}, 1, nil, nil},
		{"servfail", mdns.RcodeServerFailure, nil, 0, nil, ErrTemporary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := new(mdns.Msg)
			msg.SetQuestion("h.test.", mdns.TypeA)
			msg.Rcode = tc.rcode
			msg.Answer = tc.answer
			st, err := interpret("h.test.", mdns.TypeA, msg, map[string]bool{"h.test.": true}, 8)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(st.addrs) != tc.wantAddrs || !slices.Equal(st.chain, tc.wantChain) {
				t.Errorf("addrs = %v chain = %v, want %d addrs chain %v", st.addrs, st.chain, tc.wantAddrs, tc.wantChain)
			}
		})
	}
}

// FuzzInterpret feeds arbitrary DNS messages to the answer walker: the part
// of the resolver that reads what the network sends.
func FuzzInterpret(f *testing.F) {
	seed := func(rcode int, rrs ...mdns.RR) {
		msg := new(mdns.Msg)
		msg.SetQuestion("h.test.", mdns.TypeA)
		msg.Rcode = rcode
		msg.Answer = rrs
		b, err := msg.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(mdns.RcodeSuccess, aRR("h.test.", "192.0.2.1", 60))
	seed(mdns.RcodeSuccess, cname("h.test.", "b.test."), cname("b.test.", "h.test."))
	seed(mdns.RcodeNameError, cname("h.test.", "gone.test."))
	seed(mdns.RcodeSuccess, cname("h.test.", "a.test."), cname("a.test.", "b.test."), aRR("b.test.", "192.0.2.2", 5))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := new(mdns.Msg)
		if err := msg.Unpack(data); err != nil {
			return
		}
		const budget = 4
		st, err := interpret("h.test.", mdns.TypeA, msg, map[string]bool{"h.test.": true}, budget)
		if len(st.chain) > budget {
			t.Fatalf("chain of %d past the budget", len(st.chain))
		}
		seen := map[string]bool{"h.test.": true}
		for _, c := range st.chain {
			if seen[c] {
				t.Fatalf("chain %v repeats %s", st.chain, c)
			}
			seen[c] = true
		}
		for _, a := range st.addrs {
			if !a.Is4() {
				t.Fatalf("non-IPv4 address %s for an A query", a)
			}
		}
		if err != nil && len(st.addrs) > 0 {
			t.Fatalf("addresses %v with error %v", st.addrs, err)
		}
	})
}
