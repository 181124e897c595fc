package dns

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// ednsSize is the UDP payload size we advertise: the DNS Flag Day 2020
// value, small enough to avoid IP fragmentation; larger answers come back
// truncated and are fetched again over TCP.
const ednsSize = 1232

// familyResult is the outcome of resolving one address family, after
// following CNAMEs across as many queries as needed.
type familyResult struct {
	addrs  []netip.Addr
	chain  []string // CNAME targets in order, without the trailing dot
	ttl    uint32   // minimum TTL over the records used, or the negative TTL
	nx     bool     // the name (or the end of its chain) does not exist
	server string
	err    error // temporary (retry) or permanent (loop, overlong chain)
}

// step is what one DNS message tells about name: the CNAMEs it walks, the
// addresses at the end, and where the walk stopped.
type step struct {
	addrs []netip.Addr
	chain []string // fully qualified, lower case
	end   string
	ttl   uint32
	nx    bool
	soa   *mdns.SOA
}

// lookupFamily resolves host (fully qualified, lower case) for qtype,
// sending another query to the end of the chain when the server answered
// with a CNAME alone, as an authoritative server for another zone does.
func (r *Resolver) lookupFamily(ctx context.Context, host string, qtype uint16) familyResult {
	res := familyResult{ttl: math.MaxUint32}
	seen := map[string]bool{host: true}
	name := host
	for {
		msg, server, err := r.exchange(ctx, name, qtype)
		if err != nil {
			res.err = err
			return res
		}
		res.server = server
		st, err := interpret(name, qtype, msg, seen, r.cfg.MaxCNAMEs-len(res.chain))
		for _, c := range st.chain {
			res.chain = append(res.chain, strings.TrimSuffix(c, "."))
		}
		if err != nil {
			res.err = fmt.Errorf("resolve %s: %w", strings.TrimSuffix(host, "."), err)
			return res
		}
		res.ttl = min(res.ttl, st.ttl)
		switch {
		case len(st.addrs) > 0:
			res.addrs = st.addrs
			return res
		case st.nx || st.end == name:
			res.nx = st.nx
			res.ttl = min(res.ttl, r.negativeTTL(st.soa))
			return res
		}
		name = st.end
	}
}

// interpret walks the answer section of msg from name. seen holds the names
// already visited by earlier queries, so loops spanning several answers are
// found too; budget is how many more CNAMEs may be followed.
func interpret(name string, qtype uint16, msg *mdns.Msg, seen map[string]bool, budget int) (step, error) {
	st := step{end: name, ttl: math.MaxUint32}
	switch msg.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		st.nx = true
	default:
		return st, fmt.Errorf("unexpected rcode %s: %w", mdns.RcodeToString[msg.Rcode], ErrTemporary)
	}
	cnames := map[string]*mdns.CNAME{}
	addrs := map[string][]mdns.RR{}
	for _, rr := range msg.Answer {
		h := rr.Header()
		if h.Class != mdns.ClassINET {
			continue
		}
		owner := strings.ToLower(h.Name)
		switch v := rr.(type) {
		case *mdns.CNAME:
			cnames[owner] = v
		case *mdns.A, *mdns.AAAA:
			if h.Rrtype == qtype {
				addrs[owner] = append(addrs[owner], rr)
			}
		}
	}
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			st.soa = soa
		}
	}
	cur := name
	// Only records owned by a name on the chain count: anything else in
	// the answer is unrelated or an attempt at cache poisoning.
	for len(addrs[cur]) == 0 {
		c, ok := cnames[cur]
		if !ok {
			break
		}
		target := strings.ToLower(mdns.Fqdn(c.Target))
		if seen[target] {
			return st, fmt.Errorf("cname %s -> %s: %w", cur, target, ErrCNAMELoop)
		}
		if len(st.chain) >= budget {
			return st, fmt.Errorf("cname chain past %s: %w", cur, ErrChainTooLong)
		}
		seen[target] = true
		st.chain = append(st.chain, target)
		st.ttl = min(st.ttl, c.Hdr.Ttl)
		cur = target
	}
	st.end = cur
	for _, rr := range addrs[cur] {
		var a netip.Addr
		switch v := rr.(type) {
		case *mdns.A:
			a, _ = netip.AddrFromSlice(v.A.To4())
		case *mdns.AAAA:
			a, _ = netip.AddrFromSlice(v.AAAA.To16())
		}
		if a.IsValid() && !containsAddr(st.addrs, a) {
			st.addrs = append(st.addrs, a)
			st.ttl = min(st.ttl, rr.Header().Ttl)
		}
	}
	if len(st.addrs) > 0 {
		// Addresses trump the rcode: some servers flag NXDOMAIN for a
		// name elsewhere in the chain.
		st.nx = false
	}
	return st, nil
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// negativeTTL is how long a negative answer is cached: the SOA rule of
// RFC 2308 (the smaller of the SOA's TTL and its minimum field), never
// longer than the configured NegativeTTL, which also stands in when the
// server sent no SOA.
func (r *Resolver) negativeTTL(soa *mdns.SOA) uint32 {
	limit := uint32(r.cfg.NegativeTTL / time.Second)
	if soa == nil {
		return limit
	}
	return min(soa.Hdr.Ttl, soa.Minttl, limit)
}

// exchange asks the configured servers in order until one gives a usable
// answer (NOERROR or NXDOMAIN). Each query has its own deadline; a
// truncated UDP answer is asked again over TCP.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*mdns.Msg, string, error) {
	q := new(mdns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsSize, false)
	var errs []error
	for _, server := range r.servers {
		if err := ctx.Err(); err != nil {
			return nil, "", fmt.Errorf("query %s: %w: %w", name, ErrTemporary, err)
		}
		resp, err := r.exchangeOne(ctx, q, server)
		r.queries.Add(1)
		if err != nil {
			errs = append(errs, fmt.Errorf("query %s %s at %s: %w", name, mdns.TypeToString[qtype], server, err))
			continue
		}
		if resp.Rcode != mdns.RcodeSuccess && resp.Rcode != mdns.RcodeNameError {
			errs = append(errs, fmt.Errorf("query %s %s at %s: rcode %s",
				name, mdns.TypeToString[qtype], server, mdns.RcodeToString[resp.Rcode]))
			continue
		}
		return resp, server, nil
	}
	return nil, "", fmt.Errorf("%w: %w", ErrTemporary, errors.Join(errs...))
}

func (r *Resolver) exchangeOne(ctx context.Context, q *mdns.Msg, server string) (*mdns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	resp, _, err := r.udp.ExchangeContext(qctx, q, server)
	if err == nil && resp.Truncated {
		resp, _, err = r.tcp.ExchangeContext(qctx, q, server)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, q.Question[0].Name) ||
		resp.Question[0].Qtype != q.Question[0].Qtype {
		return nil, errors.New("answer to a different question")
	}
	return resp, nil
}
