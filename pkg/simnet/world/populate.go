package world

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/geoipsim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
)

// DemoURL is a URL of a demo site, with what its hoster will do.
type DemoURL struct {
	URL       string
	Kind      string
	Says      string // the behaviour in words
	Contact   string // who the first notice should reach
	Hosted    string // where, in words
	Behaviour Behaviour
}

// demoNet is a network the demo sites sit on.
type demoNet struct {
	registry string
	prefix   string
	handle   string
	org      string
	country  string
	abuse    string
	asn      uint32
}

// demoNets: RIPE's upper half of 185/8 is left to them by the plan. The
// CDN range is Cloudflare's, which takedownd's CDN list knows by ASN.
var demoNets = []demoNet{
	{"ripe", "185.200.1.0/24", "SNEL-HOSTING-NET", "Snel Hosting B.V.", "NL", "abuse@snel-hosting.sim.example", 13001},
	{"ripe", "185.200.2.0/24", "TRAAG-HOSTING-NET", "Traag Hosting B.V.", "NL", "abuse@traag-hosting.sim.example", 13002},
	{"ripe", "185.200.3.0/24", "UMZUG-HOSTING-NET", "Umzug Hosting GmbH", "DE", "abuse@umzug-hosting.sim.example", 13003},
	{"arin", "104.16.0.0/13", "CLOUDFLARENET", "Cloudflare, Inc.", "US", "abuse@cloudflare.com", 13335},
}

// abroadNet is where moving sites go: Germany, whose partner hotline
// takes forwards by webhook in the world's partner list.
const abroadNet = 2

// demoSites are the sites a person tries the daemon with.
var demoSites = []struct {
	host, addr string
	net        int
	b          Behaviour
	says       string
}{
	{"www.quick-removal-sim.com", "185.200.1.10", 0, Behaviour{Kind: KindRemove, RemoveAfter: 2 * time.Minute}, "removed 2 minutes after the notice"},
	{"www.slow-removal-sim.com", "185.200.1.11", 0, Behaviour{Kind: KindRemove, RemoveAfter: 3 * time.Hour}, "removed 3 hours after the notice"},
	{"www.never-removed-sim.com", "185.200.2.10", 1, Behaviour{Kind: KindNever}, "never removed: reminders, then escalation"},
	{"www.flapping-sim.com", "185.200.2.11", 1, Behaviour{Kind: KindFlap, FlapPeriod: 2 * time.Minute, RemoveAfter: 20 * time.Minute}, "gone and back every 2 minutes after the notice, removed after 20"},
	{"www.moving-abroad-sim.com", "185.200.1.12", 0, Behaviour{Kind: KindMove, MoveAfter: time.Minute, RemoveAfter: 3 * time.Minute}, "moves to Germany 1 minute after the notice, removed 3 minutes after the forward"},
	{"www.behind-cdn-sim.com", "104.16.200.10", 3, Behaviour{Kind: KindCDN, RemoveAfter: 5 * time.Minute}, "behind Cloudflare: the CDN is noticed, removed 5 minutes later"},
	{"www.abroad-gb-sim.com", "62.239.237.1", -1, Behaviour{Kind: KindRemove, RemoveAfter: 5 * time.Minute}, "hosted by BT in Britain (a captured RIPE answer): forwarded to the partner hotline, removed 5 minutes later"},
	{"www.no-such-host-sim.com", "", -1, Behaviour{Kind: KindUnresolvable}, "does not resolve: the case is unresolvable"},
}

// populate fills DNS, RDAP and GeoIP with the demo sites and the plan.
func (w *World) populate(ctx context.Context) error {
	var geo []geoipsim.Network
	p := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	for _, n := range demoNets {
		srv := w.RDAP.Server(n.registry)
		if err := srv.AddNetwork(rdapsim.Network{Prefix: p(n.prefix), Handle: n.handle, Country: n.country, AbuseEmail: n.abuse, ASN: n.asn}); err != nil {
			return err
		}
		geo = append(geo, geoipsim.Network{Prefix: p(n.prefix), Country: n.country, ASN: n.asn, Org: n.org})
	}
	// The captured answers the demo uses: BT's network in Britain.
	geo = append(geo, geoipsim.Network{Prefix: p("62.239.237.0/24"), Country: "GB", ASN: 2856, Org: "British Telecommunications PLC"})
	for i, d := range demoSites {
		s := &site{host: d.host, behaviour: d.b, demo: true}
		dom := d.host[len("www."):]
		if err := w.RDAP.Server("verisign").AddDomain(rdapsim.Domain{
			Name: dom, Registrar: "Demo Registrar", IANAID: "9990", AbuseEmail: "abuse@demo-registrar.sim.example",
			RegistrarServer: w.RDAP.Server("registrar.eu"),
		}); err != nil {
			return err
		}
		switch {
		case d.addr == "":
		case d.b.Kind == KindCDN:
			edge := d.host + ".cdn.cloudflare.net"
			w.DNS.AddCNAME(d.host, edge, w.siteTTL())
			w.DNS.AddAddr(edge, w.siteTTL(), netip.MustParseAddr(d.addr))
			w.mapAddr(d.addr)
		default:
			w.DNS.AddAddr(d.host, w.siteTTL(), netip.MustParseAddr(d.addr))
			w.mapAddr(d.addr)
		}
		if d.net >= 0 {
			s.contact = demoNets[d.net].abuse
		}
		if d.b.Kind == KindMove {
			s.abroad = fmt.Sprintf("185.200.3.%d", 10+i)
			w.mapAddr(s.abroad)
		}
		w.sites[d.host] = s
		w.demo = append(w.demo, DemoURL{
			URL: "http://" + d.host + "/demo/a.jpg", Kind: d.b.Kind, Says: d.says, Contact: s.contact,
			Hosted: hostedIn(d.net), Behaviour: d.b,
		})
	}
	plan, err := w.populatePlan(ctx)
	if err != nil {
		return err
	}
	geo = append(geo, plan...)
	w.countryDB, w.asnDB, err = geoipsim.WriteFiles(w.opts.Dir, geo)
	if err != nil {
		return fmt.Errorf("write geoip: %w", err)
	}
	return nil
}

func hostedIn(net int) string {
	if net < 0 {
		return ""
	}
	return demoNets[net].org + " (" + demoNets[net].country + ")"
}

// populatePlan generates the synthetic networks, domains and hosts and
// returns their GeoIP rows.
func (w *World) populatePlan(ctx context.Context) ([]geoipsim.Network, error) {
	pl := w.plan
	if pl.Hosts == 0 {
		return nil, nil
	}
	if pl.Networks <= 0 || pl.Domains <= 0 {
		return nil, fmt.Errorf("plan: %d hosts need networks and domains", pl.Hosts)
	}
	if len(pl.Split) == 0 {
		pl.Split = DefaultSplit
	}
	if len(pl.Mix) == 0 {
		pl.Mix = DefaultMix
	}
	w.plan = pl
	l, err := pl.lay()
	if err != nil {
		return nil, err
	}
	geo := make([]geoipsim.Network, 0, len(l.networks))
	for _, par := range l.parents {
		srv := w.RDAP.Server(par.registry)
		if err := srv.AddNetwork(rdapsim.Network{Prefix: par.prefix, Handle: par.handle, Country: par.country, ASN: par.asn,
			AbuseEmail: fmt.Sprintf("abuse@%s.sim.example", lowerHandle(par.handle))}); err != nil {
			return nil, err
		}
		if err := srv.AddAutnum(rdapsim.Autnum{ASN: par.asn, Name: par.handle, Country: par.country,
			AbuseEmail: fmt.Sprintf("abuse@as%d.sim.example", par.asn)}); err != nil {
			return nil, err
		}
	}
	for _, n := range l.networks {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		par := l.parents[n.parent]
		rn := rdapsim.Network{Prefix: n.prefix, Handle: n.handle, Country: n.country, AbuseEmail: n.abuse, ASN: n.asn}
		if n.registry == "arin" {
			rn.ParentHandle = par.handle // ARIN names the parent only by handle
		} else {
			rn.Parent = par.prefix
		}
		if err := w.RDAP.Server(n.registry).AddNetwork(rn); err != nil {
			return nil, err
		}
		geo = append(geo, geoipsim.Network{Prefix: n.prefix, Country: n.country, ASN: n.asn, Org: "Sim Hosting " + n.handle})
	}
	registrars := []*rdapsim.Server{w.RDAP.Server("markmonitor"), w.RDAP.Server("registrar.eu")}
	for d := range pl.Domains {
		dom := rdapsim.Domain{
			Name: pl.domainName(d), Registrar: fmt.Sprintf("Sim Registrar %d", d%7), IANAID: fmt.Sprintf("%d", 9000+d%7),
			AbuseEmail: fmt.Sprintf("abuse@registrar%d.sim.example", d%7),
		}
		if d%2 == 0 {
			dom.RegistrarServer = registrars[(d/2)%2]
		}
		if err := w.RDAP.Server("verisign").AddDomain(dom); err != nil {
			return nil, err
		}
	}
	for i := range pl.Hosts {
		host := pl.hostName(i)
		kind := pl.hostKind(i)
		// A site moves, or first goes away for a spell, half its quickest
		// removal after the notice, so both happen before it removes.
		quick := max(pl.RemoveAfter[0]/2, time.Second)
		s := &site{host: host, behaviour: Behaviour{Kind: kind, MoveAfter: quick, FlapPeriod: quick}}
		addr := pl.hostAddr(l, i)
		s.contact = l.networks[i%len(l.networks)].abuse
		switch kind {
		case KindUnresolvable:
		case KindCDN:
			edge := host + ".cdn.cloudflare.net"
			a := netip.AddrFrom4([4]byte{104, 17, byte(i / 250 % 256), byte(1 + i%250)})
			w.DNS.AddCNAME(host, edge, w.siteTTL())
			w.DNS.AddAddr(edge, w.siteTTL(), a)
			w.mapAddr(a.String())
			s.contact = demoNets[3].abuse
		default:
			w.DNS.AddAddr(host, w.siteTTL(), addr)
			w.mapAddr(addr.String())
		}
		if kind == KindMove {
			s.abroad = netip.AddrFrom4([4]byte{185, 200, 3, byte(100 + i%150)}).String()
			w.mapAddr(s.abroad)
		}
		w.sites[host] = s
		w.gen = append(w.gen, s)
	}
	return geo, nil
}

func lowerHandle(h string) string {
	out := []byte(h)
	for i, c := range out {
		if c >= 'A' && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return string(out)
}

// scheduleMove points the site's name at its address abroad MoveAfter
// from now (the first notice of any of its URLs).
func (w *World) scheduleMove(s *site) {
	if s.abroad == "" || !s.moving.CompareAndSwap(false, true) {
		return // nowhere to go, or the site's first notice was another URL's
	}
	t := time.AfterFunc(s.behaviour.MoveAfter, func() {
		w.DNS.SetAddrs(s.host, w.siteTTL(), netip.MustParseAddr(s.abroad))
		s.movedAt.Store(w.now().UnixNano())
		w.log.Info("site moved abroad", "host", s.host, "addr", s.abroad)
	})
	w.mu.Lock()
	w.moves = append(w.moves, t)
	w.mu.Unlock()
}

// Demo lists the demo URLs.
func (w *World) Demo() []DemoURL { return w.demo }

// Host is the name of generated host i of the plan.
func (w *World) Host(i int) string { return w.plan.hostName(i) }

// Plan is the plan in use, with defaults filled in.
func (w *World) Plan() Plan { return w.plan }

// GeoIPFiles are the paths of the Country and ASN databases.
func (w *World) GeoIPFiles() (country, asn string) { return w.countryDB, w.asnDB }

// configDir is where the world's files are.
func (w *World) configDir() string { return w.opts.Dir }

// file is a path in the world's directory.
func (w *World) file(name string) string { return filepath.Join(w.opts.Dir, name) }

// siteTTL is the TTL of the sites' DNS records, in seconds.
func (w *World) siteTTL() uint32 { return uint32(max(w.opts.SiteTTL/time.Second, 1)) }
