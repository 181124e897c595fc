package dnssim

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxChase bounds in-zone CNAME following so a loop in the zone cannot hang
// the server; a real resolver answers SERVFAIL for such loops.
const maxChase = 16

func (s *Server) serve(w dns.ResponseWriter, q *dns.Msg, transport string) {
	s.queries.Add(1)
	resp := new(dns.Msg).SetReply(q)
	resp.RecursionAvailable = true
	if len(q.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(resp)
		return
	}
	qn := q.Question[0]
	name := strings.ToLower(qn.Name)

	s.mu.Lock()
	s.perName[name]++
	mode := s.modes[name]
	hold := s.held[name]
	latency := s.latency
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if latency > 0 {
		time.Sleep(latency)
	}

	switch mode {
	case ModeTimeout:
		return
	case ModeServFail:
		resp.Rcode = dns.RcodeServerFailure
	case ModeRefused:
		resp.Rcode = dns.RcodeRefused
	case ModeNXDomain:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{s.soa(name)}
	case ModeTruncate:
		if transport == "udp" {
			resp.Truncated = true
			break
		}
		s.answer(resp, name, qn.Qtype)
	default:
		s.answer(resp, name, qn.Qtype)
	}
	_ = w.WriteMsg(resp)
}

// answer fills resp the way a recursive resolver would: the CNAME chain from
// name, then the records of qtype at its end, or an SOA for negative caching.
func (s *Server) answer(resp *dns.Msg, name string, qtype uint16) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cur := name
	for hop := 0; hop < maxChase; hop++ {
		if hop > 0 {
			switch s.modes[cur] {
			case ModeNXDomain:
				resp.Rcode = dns.RcodeNameError
				resp.Ns = []dns.RR{s.soa(cur)}
				return
			case ModeServFail, ModeRefused, ModeTimeout:
				resp.Answer = nil
				resp.Rcode = dns.RcodeServerFailure
				return
			}
		}
		rrs, ok := s.records[cur]
		if !ok {
			// RFC 6604: the rcode describes the last name in the chain.
			resp.Rcode = dns.RcodeNameError
			resp.Ns = []dns.RR{s.soa(cur)}
			return
		}
		var next string
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == qtype:
				resp.Answer = append(resp.Answer, dns.Copy(rr))
			case rr.Header().Rrtype == dns.TypeCNAME:
				next = rr.(*dns.CNAME).Target
				resp.Answer = append(resp.Answer, dns.Copy(rr))
			}
		}
		if next == "" || qtype == dns.TypeCNAME {
			if len(resp.Answer) == 0 {
				resp.Ns = []dns.RR{s.soa(cur)}
			}
			return
		}
		if !s.chase {
			return
		}
		cur = next
	}
	resp.Answer = nil
	resp.Rcode = dns.RcodeServerFailure
}

// soa is the negative-caching record for name, owned by its last two labels
// as if they were the zone apex.
func (s *Server) soa(name string) dns.RR {
	labels := dns.SplitDomainName(name)
	apex := "."
	if len(labels) >= 2 {
		apex = dns.Fqdn(strings.Join(labels[len(labels)-2:], "."))
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.soaMinimum},
		Ns:      "ns." + apex,
		Mbox:    "hostmaster." + apex,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  s.soaMinimum,
	}
}

// Entry is one name added by a bulk helper with the address it resolves to.
type Entry struct {
	Name string
	Addr netip.Addr
}

// AddDomains adds n names "dNNNNN.<suffix>" with one A record each, the
// addresses counted up from 198.18.0.0 (the RFC 2544 benchmarking range, so
// they can never be mistaken for a real hoster), and returns them.
func (s *Server) AddDomains(n int, suffix string, ttl uint32) []Entry {
	base := netip.MustParseAddr("198.18.0.0").As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16
	out := make([]Entry, 0, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		v := start + uint32(i+1)
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		name := fqdn(fmt.Sprintf("d%05d.%s", i, suffix))
		s.records[name] = append(s.records[name], addrRR(name, ttl, a))
		out = append(out, Entry{Name: strings.TrimSuffix(name, "."), Addr: a})
	}
	return out
}
