package dnssim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, transport, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: transport, Timeout: 200 * time.Millisecond}
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	resp, _, err := c.ExchangeContext(t.Context(), q, s.Addr())
	return resp, err
}

func TestModes(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.AddAddr("h.example.test", 60, netip.MustParseAddr("192.0.2.1"))
	s.SetSOAMinimum(42)
	tests := []struct {
		name      string
		mode      Mode
		transport string
		wantRcode int
		wantTC    bool
		wantAns   int
		wantErr   bool
	}{
		{"answer", ModeAnswer, "udp", dns.RcodeSuccess, false, 1, false},
		{"answer over tcp", ModeAnswer, "tcp", dns.RcodeSuccess, false, 1, false},
		{"nxdomain", ModeNXDomain, "udp", dns.RcodeNameError, false, 0, false},
		{"servfail", ModeServFail, "udp", dns.RcodeServerFailure, false, 0, false},
		{"refused", ModeRefused, "udp", dns.RcodeRefused, false, 0, false},
		{"truncated over udp", ModeTruncate, "udp", dns.RcodeSuccess, true, 0, false},
		{"truncate answers tcp in full", ModeTruncate, "tcp", dns.RcodeSuccess, false, 1, false},
		{"timeout", ModeTimeout, "udp", 0, false, 0, true},
	}
	// One server, modes switched in turn: run in order.
	for _, tc := range tests {
		s.SetMode("h.example.test", tc.mode)
		resp, err := ask(t, s, tc.transport, "h.example.test", dns.TypeA)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		if resp.Rcode != tc.wantRcode || resp.Truncated != tc.wantTC || len(resp.Answer) != tc.wantAns {
			t.Errorf("%s: rcode %s tc %v answers %d, want %s %v %d", tc.name, dns.RcodeToString[resp.Rcode],
				resp.Truncated, len(resp.Answer), dns.RcodeToString[tc.wantRcode], tc.wantTC, tc.wantAns)
		}
		if tc.mode == ModeNXDomain {
			if len(resp.Ns) != 1 || resp.Ns[0].(*dns.SOA).Minttl != 42 {
				t.Errorf("%s: authority %v, want an SOA with minimum 42", tc.name, resp.Ns)
			}
		}
	}
	if got := s.QueriesFor("H.example.test."); got != len(tests) {
		t.Errorf("queries for the name = %d, want %d", got, len(tests))
	}
	if s.Queries() != int64(len(tests)) {
		t.Errorf("queries = %d, want %d", s.Queries(), len(tests))
	}
}

func TestZoneChanges(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.AddCNAME("www.example.test", "edge.cdn.test", 30)
	s.AddAddr("edge.cdn.test", 60, netip.MustParseAddr("2001:db8::1"))

	resp, err := ask(t, s, "udp", "www.example.test", dns.TypeAAAA)
	if err != nil || len(resp.Answer) != 2 {
		t.Fatalf("chased answer = %v, %v; want cname and aaaa", resp, err)
	}
	s.ChaseCNAMEs(false)
	if resp, err = ask(t, s, "udp", "www.example.test", dns.TypeAAAA); err != nil || len(resp.Answer) != 1 {
		t.Fatalf("unchased answer = %v, %v; want the cname alone", resp, err)
	}
	s.Remove("edge.cdn.test")
	s.ChaseCNAMEs(true)
	if resp, err = ask(t, s, "udp", "www.example.test", dns.TypeAAAA); err != nil || resp.Rcode != dns.RcodeNameError {
		t.Fatalf("dangling cname = %v, %v; want nxdomain", resp, err)
	}
	entries := s.AddDomains(300, "bulk.test", 60)
	last := entries[len(entries)-1]
	if last.Name != "d00299.bulk.test" || last.Addr != netip.MustParseAddr("198.18.1.44") {
		t.Errorf("last bulk entry = %+v", last)
	}
	if resp, err = ask(t, s, "udp", last.Name, dns.TypeA); err != nil || len(resp.Answer) != 1 ||
		resp.Answer[0].(*dns.A).A.String() != "198.18.1.44" {
		t.Errorf("bulk answer = %v, %v", resp, err)
	}
}

func TestHold(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.AddAddr("h.example.test", 60, netip.MustParseAddr("192.0.2.1"))
	release := s.Hold("h.example.test")
	done := make(chan error, 1)
	go func() {
		_, err := ask(t, s, "tcp", "h.example.test", dns.TypeA)
		done <- err
	}()
	for s.QueriesFor("h.example.test") == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("held query answered early: %v", err)
	default:
	}
	release()
	release()
	if err := <-done; err != nil {
		t.Errorf("released query: %v", err)
	}
}

func TestListenFixedPortAndSetAddrs(t *testing.T) {
	t.Parallel()
	first := Start(t)
	addr := first.Addr()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// The port just freed is taken again for both transports, as a
	// program does with a port given by flag.
	s, err := Listen(addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.Addr() != addr {
		t.Errorf("addr = %s, want %s", s.Addr(), addr)
	}
	s.AddAddr("m.example.test", 60, netip.MustParseAddr("192.0.2.1"))
	s.SetAddrs("m.example.test", 60, netip.MustParseAddr("192.0.2.7"))
	for _, transport := range []string{"udp", "tcp"} {
		resp, err := ask(t, s, transport, "m.example.test", dns.TypeA)
		if err != nil || len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
			t.Errorf("%s: answer %v, %v; want only the new address", transport, resp, err)
		}
	}
}
