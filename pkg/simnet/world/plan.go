package world

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Plan is the size and make-up of the synthetic part of the world, the
// part a load run scales: hosts on networks at the five RIRs, under .com
// domains at Verisign (every second one with a registrar follow-up).
type Plan struct {
	// Hosts, Networks and Domains are how many of each are generated; a
	// host i sits on network i mod Networks under domain i mod Domains.
	Hosts, Networks, Domains int
	// Split weighs the RIRs the networks are spread over.
	Split []Share
	// Mix weighs the behaviours hosts are given.
	Mix []Share
	// RemoveAfter is the range the removal delay after the notice is drawn
	// from, per URL, for hosts that remove (also CDN-fronted ones, and
	// moved ones after the forward).
	RemoveAfter [2]time.Duration
	// Seed makes a different but equally reproducible world.
	Seed uint64
}

// Share is a name with a weight, as in "ripe=75".
type Share struct {
	Name   string
	Weight float64
}

// DefaultSplit is how a Dutch hotline sees networks spread over the RIRs:
// most in RIPE's region (NL above all, then DE, GB, FR), the rest mostly
// in ARIN's.
var DefaultSplit = []Share{{"ripe", 75}, {"arin", 15}, {"apnic", 6}, {"lacnic", 2}, {"afrinic", 2}}

// DefaultMix is the behaviour of load hosts: most remove, some never, a
// few flap, move abroad or sit behind a CDN.
var DefaultMix = []Share{{KindRemove, 85}, {KindNever, 5}, {KindFlap, 3}, {KindMove, 4}, {KindCDN, 3}}

// ParseShares reads "a=1,b=2" against the names allowed.
func ParseShares(s string, allowed ...string) ([]Share, error) {
	var out []Share
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("parse %q: want name=weight", part)
		}
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			return nil, fmt.Errorf("parse %q: %s is not one of %s", part, name, strings.Join(allowed, ", "))
		}
		v, err := strconv.ParseFloat(w, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, fmt.Errorf("parse %q: weight must be a number >= 0", part)
		}
		out = append(out, Share{name, v})
		total += v
	}
	if total <= 0 {
		return nil, fmt.Errorf("parse %q: the weights add up to nothing", s)
	}
	return out, nil
}

// pick returns the share that u (0 ≤ u < 1) falls into.
func pick(shares []Share, u float64) string {
	total := 0.0
	for _, s := range shares {
		total += s.Weight
	}
	at := u * total
	for _, s := range shares {
		if at < s.Weight {
			return s.Name
		}
		at -= s.Weight
	}
	return shares[len(shares)-1].Name
}

// Draw is a reproducible number in [0, 1) for (seed, what, i): the same
// world, and the same run, from the same seed. The inputs go through
// splitmix64's finaliser, so neighbouring i draw unrelated numbers.
func Draw(seed uint64, what string, i int) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(what))
	x := seed ^ h.Sum64() ^ uint64(i)*0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// rir is one registry's address plan: networks are /24s counted up from
// its /8, 128 of them under each /16 parent announced by one AS.
type rir struct {
	name      string
	octet     byte
	countries []string // drawn in turn, so NL dominates RIPE's
	asn       uint32   // the first of the AS numbers its parents use
}

// rirs are /8s and AS numbers the IANA bootstrap gives each RIR (so the
// daemon's own bootstrap sends each lookup to the right simulated
// registry), clear of the fixtures'; at most 256 parents each.
var rirs = map[string]rir{
	"ripe":    {"ripe", 185, []string{"NL", "NL", "NL", "NL", "NL", "NL", "DE", "GB", "FR", "NL"}, 12288},
	"arin":    {"arin", 23, []string{"US"}, 1000},
	"apnic":   {"apnic", 1, []string{"JP", "SG"}, 9300},
	"lacnic":  {"lacnic", 177, []string{"BR"}, 27648},
	"afrinic": {"afrinic", 41, []string{"ZA"}, 36900},
}

// RIRNames are the registries a Split may name.
var RIRNames = []string{"ripe", "arin", "apnic", "lacnic", "afrinic"}

// maxPerRIR keeps generated networks in the lower half of each /8; the
// demo sites use the upper half of RIPE's.
const maxPerRIR = 1 << 15

// network is one generated network with what the registries and GeoIP
// say about it.
type network struct {
	registry string
	prefix   netip.Prefix
	handle   string
	country  string
	abuse    string
	asn      uint32
	parent   int // index into parents
}

// parentNet is a /16 above generated networks, with its AS.
type parentNet struct {
	registry string
	prefix   netip.Prefix
	handle   string
	country  string
	asn      uint32
}

// layout is what a Plan generates, before it is loaded into the servers.
type layout struct {
	networks []network
	parents  []parentNet
}

// lay spreads p.Networks over the RIRs by p.Split.
func (p Plan) lay() (layout, error) {
	var l layout
	perRIR := map[string]int{}
	parentOf := map[string]int{} // registry/k>>7 -> index
	for i := range p.Networks {
		name := pick(p.Split, Draw(p.Seed, "rir", i))
		r := rirs[name]
		k := perRIR[name]
		perRIR[name]++
		if k >= maxPerRIR {
			return l, fmt.Errorf("plan: more than %d networks at %s", maxPerRIR, name)
		}
		country := r.countries[k%len(r.countries)]
		key := fmt.Sprintf("%s/%d", name, k>>7)
		pi, ok := parentOf[key]
		if !ok {
			pi = len(l.parents)
			parentOf[key] = pi
			l.parents = append(l.parents, parentNet{
				registry: name,
				prefix:   netip.PrefixFrom(netip.AddrFrom4([4]byte{r.octet, byte(k >> 8), byte(k & 0x80), 0}), 17),
				handle:   fmt.Sprintf("SIM-%s-UP-%d", strings.ToUpper(name), k>>7),
				country:  country,
				asn:      r.asn + uint32(k>>7),
			})
		}
		l.networks = append(l.networks, network{
			registry: name,
			prefix:   netip.PrefixFrom(netip.AddrFrom4([4]byte{r.octet, byte(k >> 8), byte(k), 0}), 24),
			handle:   fmt.Sprintf("SIM-%s-%d", strings.ToUpper(name), k),
			country:  country,
			abuse:    fmt.Sprintf("abuse@net%d.%s.sim.example", k, name),
			asn:      l.parents[pi].asn,
			parent:   pi,
		})
	}
	return l, nil
}

// hostName is the name of generated host i.
func (p Plan) hostName(i int) string {
	return fmt.Sprintf("h%d.%s", i, p.domainName(i%max(p.Domains, 1)))
}

// domainName is the name of generated domain d.
func (p Plan) domainName(d int) string { return fmt.Sprintf("sim%05d.com", d) }

// hostAddr is the address of generated host i: the hosts of one network
// are counted up from .1.
func (p Plan) hostAddr(l layout, i int) netip.Addr {
	n := l.networks[i%len(l.networks)]
	b := n.prefix.Addr().As4()
	b[3] = byte(1 + (i/len(l.networks))%250)
	return netip.AddrFrom4(b)
}

// hostKind is the behaviour of generated host i.
func (p Plan) hostKind(i int) string { return pick(p.Mix, Draw(p.Seed, "kind", i)) }

// removeAfter is the removal delay of URL n, drawn from p.RemoveAfter.
func (p Plan) removeAfter(n int) time.Duration {
	lo, hi := p.RemoveAfter[0], p.RemoveAfter[1]
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(Draw(p.Seed, "remove", n)*float64(hi-lo))
}
