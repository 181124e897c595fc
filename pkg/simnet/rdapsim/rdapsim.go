// Package rdapsim runs loopback RDAP servers that stand in for the real
// registries (RIRs, TLD registries, registrars) in tests and load runs.
// Each server answers the captured responses in shared/fixtures/rdap (and
// the few kept in this package's fixtures/) at the same paths the real
// server would, plus generated networks and domains for
// load, and can be told to be slow, rate-limit, fail or forget. Nothing in
// production imports it.
package rdapsim

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// registry is a real RDAP server the simulation stands in for.
type registry struct {
	name string
	base string // real base URL
}

// registries lists the servers the fixtures (and their links) refer to.
var registries = []registry{
	{"ripe", "https://rdap.db.ripe.net/"},
	{"arin", "https://rdap.arin.net/registry/"},
	{"apnic", "https://rdap.apnic.net/"},
	{"lacnic", "https://rdap.lacnic.net/rdap/"},
	{"afrinic", "https://rdap.afrinic.net/rdap/"},
	{"verisign", "https://rdap.verisign.com/com/v1/"},
	{"markmonitor", "https://rdap.markmonitor.com/rdap/"},
	{"registrar.eu", "https://rdap.registrar.eu/v1/"},
	{"joker", "https://rdap.joker.com/"},
	{"afnic", "https://rdap.nic.fr/"},
	{"cznic", "https://rdap.nic.cz/"},
	{"norid", "https://rdap.norid.no/"},
	// elsewhere stands in for every other server (a ccTLD registry, a
	// registrar an answer links to): it knows nothing and answers 404, so
	// a client under the simulation never reaches the real internet.
	{Elsewhere, "https://rdap.elsewhere.invalid/"},
}

// Registry names a real RDAP server the simulation stands in for.
type Registry struct {
	// Name is the simulation's name for it ("ripe"), Host the real
	// server's host ("rdap.db.ripe.net"), under which takedownd's limits
	// are configured.
	Name, Host string
}

// Registries lists the servers every simulation runs.
func Registries() []Registry {
	out := make([]Registry, 0, len(registries))
	for _, r := range registries {
		u, _ := url.Parse(r.base)
		out = append(out, Registry{Name: r.name, Host: u.Host})
	}
	return out
}

// Elsewhere is the name of the server that stands in for every RDAP
// server not simulated (see Overrides).
const Elsewhere = "elsewhere"

// Options configures a simulation.
type Options struct {
	// FixturesDir holds the captured responses; empty means FindFixtures.
	FixturesDir string
	// PlainHTTP serves over http instead of https. The default, TLS, lets
	// clients exercise their retry logic, which only retries over https.
	PlainHTTP bool
	// Addr, when set, serves every registry over plain http from one
	// listener on this address ("127.0.0.1:0" picks a free port), each
	// under /<registry name>/ followed by its real base path, instead of
	// one httptest server each: a program then has one port to print.
	Addr string
	// Wrap, when set, wraps each registry's handler on the one listener
	// (Addr), so a program can see or fail its requests.
	Wrap func(registry string, h http.Handler) http.Handler
}

// Sim is a set of running simulated RDAP servers.
type Sim struct {
	fixturesDir string
	servers     map[string]*Server
	client      *http.Client
	shared      *http.Server // the one listener of Options.Addr
	addr        string
}

// New starts one loopback server per registry and loads the fixtures.
// Call Close when done.
func New(opts Options) (*Sim, error) {
	dir := opts.FixturesDir
	if dir == "" {
		found, err := FindFixtures()
		if err != nil {
			return nil, err
		}
		dir = found
	}
	files, err := loadFixtures(dir)
	if err != nil {
		return nil, err
	}
	sim := &Sim{fixturesDir: dir, servers: make(map[string]*Server, len(registries))}
	var (
		ln  net.Listener
		mux *http.ServeMux
	)
	if opts.Addr != "" {
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("listen rdap: %w", err)
		}
		sim.addr = ln.Addr().String()
		mux = http.NewServeMux()
	}
	for _, reg := range registries {
		u, err := url.Parse(reg.base)
		if err != nil {
			sim.Close()
			return nil, fmt.Errorf("parse registry base %s: %w", reg.name, err)
		}
		srv := &Server{
			now:      time.Now,
			Name:     reg.name,
			RealBase: reg.base,
			basePath: u.Path,
			objects:  make(map[string][]byte),
			networks: make(map[netip.Prefix][]byte),
		}
		switch {
		case mux != nil:
			srv.url = "http://" + sim.addr + "/" + reg.name
			var h http.Handler = srv
			if opts.Wrap != nil {
				h = opts.Wrap(reg.name, h)
			}
			mux.Handle("/"+reg.name+"/", http.StripPrefix("/"+reg.name, h))
		case opts.PlainHTTP:
			srv.http = httptest.NewServer(srv)
			srv.url = srv.http.URL
		default:
			srv.http = httptest.NewTLSServer(srv)
			// All httptest TLS servers share one certificate, so one client
			// trusts every server of the simulation.
			sim.client = srv.http.Client()
			srv.url = srv.http.URL
		}
		sim.servers[reg.name] = srv
	}
	if mux != nil {
		sim.shared = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go sim.shared.Serve(ln) //nolint:errcheck // Serve returns when Close is called
	}
	if sim.client == nil {
		sim.client = &http.Client{}
	}
	for _, f := range files {
		if srv, ok := sim.servers[f.registry]; ok && f.kind != "error" {
			srv.putObject(f.kind+"/"+f.key, f.body)
		}
	}
	return sim, nil
}

// Close stops all servers.
func (s *Sim) Close() {
	if s.shared != nil {
		_ = s.shared.Close()
	}
	for _, srv := range s.servers {
		if srv.http != nil {
			srv.http.Close()
		}
	}
}

// Addr is the one listener's host:port when Options.Addr was set, else "".
func (s *Sim) Addr() string { return s.addr }

// FixturesDir returns the fixture directory in use.
func (s *Sim) FixturesDir() string { return s.fixturesDir }

// Server returns the server standing in for the named registry, or nil.
func (s *Sim) Server(name string) *Server { return s.servers[name] }

// Servers returns all servers sorted by name.
func (s *Sim) Servers() []*Server {
	out := make([]*Server, 0, len(s.servers))
	for _, srv := range s.servers {
		out = append(out, srv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// HTTPClient returns a client that trusts the servers' certificate.
func (s *Sim) HTTPClient() *http.Client { return s.client }

// Queries returns the number of requests all servers received.
func (s *Sim) Queries() int64 {
	var n int64
	for _, srv := range s.servers {
		n += srv.Queries()
	}
	return n
}

// ResetQueries sets every server's counter back to zero.
func (s *Sim) ResetQueries() {
	for _, srv := range s.servers {
		srv.ResetQueries()
	}
}

// Overrides maps each real base URL (https and http) to the loopback base
// URL of its stand-in, for a client's per-registry base-URL override.
func (s *Sim) Overrides() map[string]string {
	out := make(map[string]string, 2*len(s.servers))
	for _, srv := range s.servers {
		out[srv.RealBase] = srv.Base()
		out["http"+srv.RealBase[len("https"):]] = srv.Base()
	}
	// "*" catches every server the map does not name.
	out["*"] = s.servers[Elsewhere].Base()
	return out
}

// Bootstrap returns the IANA bootstrap file of the given kind ("ipv4",
// "ipv6", "dns" or "asn") with every simulated registry pointing at its
// loopback server, so a client can use it without overrides.
func (s *Sim) Bootstrap(kind string) ([]byte, error) {
	body, err := os.ReadFile(filepath.Join(s.fixturesDir, "iana-bootstrap", kind+".json"))
	if err != nil {
		return nil, fmt.Errorf("read bootstrap %s: %w", kind, err)
	}
	for real, loop := range s.Overrides() {
		body = bytes.ReplaceAll(body, []byte(`"`+real+`"`), []byte(`"`+loop+`"`))
	}
	return body, nil
}
