// Package world is the simulated internet as one running thing, for the
// takedownsim program and for tests and load runs: DNS (dnssim), the RDAP
// registries fed with the captured fixtures plus generated networks and
// domains (rdapsim), GeoIP databases (geoipsim), every hoster's web server
// with a behaviour per site (hostersim), a mail relay that keeps what it
// receives (smtpsim) and a partner hotline's webhook (webhooksim), on
// loopback ports it reports. It writes the takedownd configuration that
// points a daemon at it, and it knows, per URL, when the notice arrived
// and when the hoster took the material down. Nothing in production
// imports it.
package world

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/simnet/dnssim"
	"github.com/takedownd/takedownd/pkg/simnet/hostersim"
	"github.com/takedownd/takedownd/pkg/simnet/rdapsim"
	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
	"github.com/takedownd/takedownd/pkg/simnet/webhooksim"
)

// Addrs are the loopback addresses the world's servers listen on; port 0
// picks a free one (Addrs of the running world say which).
type Addrs struct {
	DNS     string // UDP and TCP
	RDAP    string // every registry, under /<registry>/
	SMTP    string // the relay
	Webhook string // the partner hotline in Germany
	Hoster  string // every hoster's web server
	Web     string // the world's own pages: demo URLs, mails, RDAP counts
}

// DefaultAddrs are fixed ports, so a daemon config written once keeps
// working across restarts of the world.
var DefaultAddrs = Addrs{
	DNS: "127.0.0.1:15353", RDAP: "127.0.0.1:18053", SMTP: "127.0.0.1:12525",
	Webhook: "127.0.0.1:18026", Hoster: "127.0.0.1:18080", Web: "127.0.0.1:18025",
}

// FreeAddrs puts every server on a free port.
var FreeAddrs = Addrs{
	DNS: "127.0.0.1:0", RDAP: "127.0.0.1:0", SMTP: "127.0.0.1:0",
	Webhook: "127.0.0.1:0", Hoster: "127.0.0.1:0", Web: "127.0.0.1:0",
}

// Options configures a world.
type Options struct {
	// Dir receives the world's files: geoip/, partners.yaml,
	// partner-secret, mail/ (when KeepMail) and the daemon config.
	Dir    string
	Listen Addrs
	// Fixtures is the directory of captured RDAP answers; empty means
	// rdapsim.FindFixtures.
	Fixtures string
	// Plan is the synthetic part; the zero Plan has none (demo sites only).
	Plan Plan
	// URLs is how many numbered URLs (/c/<n>.jpg) the world tracks in its
	// dense table; a load run sets it to its number of reports.
	URLs int
	// RDAPLatency delays every RDAP answer, as distant registries do.
	RDAPLatency time.Duration
	// RDAPLimits are the limits the registries publish, which the world
	// checks every client against (see Pace); nil means takedownd's
	// defaults (enrich.rdap.limits and default_limit).
	RDAPLimits  map[string]config.RDAPLimit
	RDAPDefault config.RDAPLimit
	// PaceSlack is the arrival jitter forgiven before a request counts as
	// faster than the limit.
	PaceSlack time.Duration
	// SiteTTL is the DNS TTL of every site (default 60 s): how soon a
	// resolver sees a site that moved.
	SiteTTL time.Duration
	// KeepMail writes every message the relay accepts to Dir/mail/ as
	// <n>-<ref>.eml.
	KeepMail bool
	Log      *slog.Logger
	// Now is the world's clock (time.Now when nil).
	Now func() time.Time
}

// World is a running simulated internet.
type World struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	plan Plan

	DNS     *dnssim.Server
	RDAP    *rdapsim.Sim
	Relay   *smtpsim.Server
	Partner *webhooksim.Receiver
	Hoster  *hostersim.Server
	web     *http.Server
	webAddr string

	secret     string
	countryDB  string
	asnDB      string
	connectTo  map[string]string // "ip:80" -> hoster
	sites      map[string]*site  // by host name
	gen        []*site           // the plan's hosts, by index
	demo       []DemoURL
	urls       *urlTable
	pace       *Pace
	rdapFaults sync.Map // registry -> *atomic.Bool (down)

	mailSeq     atomic.Int64
	mu          sync.Mutex
	recent      []Notice // the last notices, for the web page
	noticesSeen int64
	watchers    []func(Notice)
	moves       []*time.Timer
}

// site is one web site of the world.
type site struct {
	host      string
	behaviour Behaviour
	contact   string // who its notices should reach first
	abroad    string // the address it moves to, for KindMove
	movedAt   atomic.Int64
	moving    atomic.Bool // the move is scheduled
	demo      bool
}

// Start builds the world and starts its servers. Call Close when done.
func Start(ctx context.Context, opts Options) (*World, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RDAPLimits == nil {
		d := config.Default().Enrich.RDAP
		opts.RDAPLimits, opts.RDAPDefault = d.Limits, d.DefaultLimit
	}
	if opts.PaceSlack == 0 {
		opts.PaceSlack = time.Second
	}
	if opts.SiteTTL <= 0 {
		opts.SiteTTL = 60 * time.Second
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create world dir: %w", err)
	}
	w := &World{
		opts: opts, log: opts.Log, now: opts.Now, plan: opts.Plan,
		connectTo: map[string]string{}, sites: map[string]*site{},
		urls: newURLTable(opts.URLs),
	}
	w.pace = newPace(opts.RDAPLimits, opts.RDAPDefault, opts.PaceSlack, w.now)
	if err := w.start(ctx); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *World) start(ctx context.Context) error {
	var err error
	if w.secret, err = partnerSecret(w.opts.Dir); err != nil {
		return err
	}
	if w.DNS, err = dnssim.Listen(w.opts.Listen.DNS); err != nil {
		return fmt.Errorf("start dns: %w", err)
	}
	if w.RDAP, err = rdapsim.New(rdapsim.Options{FixturesDir: w.opts.Fixtures, Addr: w.opts.Listen.RDAP, Wrap: w.wrapRDAP}); err != nil {
		return fmt.Errorf("start rdap: %w", err)
	}
	for _, srv := range w.RDAP.Servers() {
		srv.SetLatency(w.opts.RDAPLatency)
	}
	if w.Hoster, err = hostersim.Listen(w.opts.Listen.Hoster, hostersim.Options{NoPathLog: true}); err != nil {
		return fmt.Errorf("start hoster: %w", err)
	}
	if w.opts.KeepMail {
		if err := os.MkdirAll(filepath.Join(w.opts.Dir, "mail"), 0o755); err != nil {
			return fmt.Errorf("create mail dir: %w", err)
		}
	}
	if w.Relay, err = smtpsim.New(smtpsim.Options{Addr: w.opts.Listen.SMTP, Domain: "relay.takedownsim.example", Discard: true, OnMessage: w.onMail}); err != nil {
		return fmt.Errorf("start relay: %w", err)
	}
	if w.Partner, err = webhooksim.Listen(w.opts.Listen.Webhook, []byte(w.secret), w.now, 5*time.Minute, w.onForward); err != nil {
		return fmt.Errorf("start partner webhook: %w", err)
	}
	if err := w.populate(ctx); err != nil {
		return err
	}
	// Only now that every site is known: serve reads w.sites unlocked.
	w.Hoster.SetDefault(hostersim.Choose(w.serve))
	return w.startWeb()
}

// partnerSecret reads Dir/partner-secret, writing a new one at first start.
func partnerSecret(dir string) (string, error) {
	path := filepath.Join(dir, "partner-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("make partner secret: %w", err)
	}
	s := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write partner secret: %w", err)
	}
	return s, nil
}

// Close stops every server. It is safe on a world that failed to start.
func (w *World) Close() {
	w.mu.Lock()
	for _, t := range w.moves {
		t.Stop()
	}
	w.mu.Unlock()
	if w.web != nil {
		_ = w.web.Close()
	}
	if w.Partner != nil {
		w.Partner.Close()
	}
	if w.Relay != nil {
		_ = w.Relay.Close()
	}
	if w.Hoster != nil {
		w.Hoster.Close()
	}
	if w.RDAP != nil {
		w.RDAP.Close()
	}
	if w.DNS != nil {
		_ = w.DNS.Close()
	}
}

// Addrs are where the servers listen.
func (w *World) Addrs() Addrs {
	return Addrs{
		DNS: w.DNS.Addr(), RDAP: w.RDAP.Addr(), SMTP: w.Relay.Addr(),
		Webhook: strings.TrimPrefix(w.Partner.URL(), "http://"), Hoster: w.Hoster.Addr(), Web: w.webAddr,
	}
}

// PartnerSecret is the webhook secret the partner checks signatures with;
// the daemon reads it from the environment variable PartnerSecretEnv.
func (w *World) PartnerSecret() string { return w.secret }

// PartnerSecretEnv is the variable the world's partners.yaml names.
const PartnerSecretEnv = "TAKEDOWNSIM_PARTNER_SECRET"

// Pace is the RDAP politeness record of every registry.
func (w *World) Pace() *Pace { return w.pace }

// Watch calls fn with every notice and forward from now on, after the
// world has recorded it; fn must not block for long.
func (w *World) Watch(fn func(Notice)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watchers = append(w.watchers, fn)
}

func (w *World) onMail(m smtpsim.Message) {
	n, err := ParseMail(m.Data, m.To, m.At)
	if err != nil {
		w.log.Warn("relay got a mail it cannot read as a notice", "err", err)
	}
	if w.opts.KeepMail {
		seq := w.mailSeq.Add(1)
		name := fmt.Sprintf("%06d-%s.eml", seq, safeName(n.Ref))
		if err := os.WriteFile(filepath.Join(w.opts.Dir, "mail", name), m.Data, 0o644); err != nil {
			w.log.Warn("keep mail", "err", err)
		}
	}
	w.record(n)
}

func (w *World) onForward(d webhooksim.Delivery) {
	if d.Duplicate {
		return // the same forward again (Idempotency-Key): nothing new
	}
	n, err := ParseForward(d.Body, "DE", w.now())
	if err != nil {
		w.log.Warn("partner got a forward it cannot read", "err", err)
		return
	}
	w.record(n)
}

// record notes the first notice per URL (the hosters act on it), keeps
// the notice for the web page and tells the watchers.
func (w *World) record(n Notice) {
	at := n.At.UnixNano()
	for _, it := range n.Items {
		host, path, ok := splitURL(it.URL)
		if !ok {
			continue
		}
		s := w.sites[host]
		if s == nil {
			continue
		}
		st, _ := w.urls.lookup(host, path)
		if st == nil {
			continue
		}
		if st.noticed.CompareAndSwap(0, at) && s.behaviour.Kind == KindMove {
			w.scheduleMove(s)
		}
		if moved := s.movedAt.Load(); moved != 0 && at >= moved && reachesAbroad(n) {
			st.renoticed.CompareAndSwap(0, at)
		}
	}
	w.mu.Lock()
	if len(w.recent) >= 500 {
		w.recent = append(w.recent[:0], w.recent[250:]...)
	}
	w.recent = append(w.recent, n)
	w.noticesSeen++
	watchers := w.watchers
	w.mu.Unlock()
	for _, fn := range watchers {
		fn(n)
	}
}

// reachesAbroad says whether n went where a moved site now is: the German
// partner's webhook, or the German network's abuse contact.
func reachesAbroad(n Notice) bool {
	return n.Channel == "webhook" || contains(n.To, demoNets[abroadNet].abuse)
}

// splitURL returns the lower-case host and the path of an http URL.
func splitURL(u string) (host, path string, ok bool) {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(u, "https://"); !ok {
			return "", "", false
		}
	}
	host, path, _ = strings.Cut(rest, "/")
	if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	return strings.ToLower(host), "/" + path, true
}

func safeName(ref string) string {
	if ref == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			return r
		}
		return '_'
	}, ref)
}

// RemovedAt is when the hoster took the material at u down for good, and
// whether it has (as of now).
func (w *World) RemovedAt(u string) (time.Time, bool) {
	host, path, ok := splitURL(u)
	if !ok {
		return time.Time{}, false
	}
	s := w.sites[host]
	if s == nil {
		return time.Time{}, false
	}
	st, n := w.urls.peek(host, path)
	if st == nil {
		return time.Time{}, false
	}
	now := w.now()
	on, gone := s.behaviour.online(st, w.removeAfter(s, n), s.movedAt.Load(), now)
	if on || gone.IsZero() || gone.After(now) {
		return time.Time{}, false
	}
	return gone, true
}

// RemovedAtN is RemovedAt for numbered URL n on generated host h, without
// building the URL: the load tool asks it for every report.
func (w *World) RemovedAtN(h, n int) (time.Time, bool) {
	s := w.genSite(h)
	if s == nil || n < 0 || n >= len(w.urls.dense) {
		return time.Time{}, false
	}
	now := w.now()
	on, gone := s.behaviour.online(&w.urls.dense[n], w.removeAfter(s, n), s.movedAt.Load(), now)
	if on || gone.IsZero() || gone.After(now) {
		return time.Time{}, false
	}
	return gone, true
}

// OnlineAtN says whether numbered URL n on generated host h was served at
// t, as far as the world knows now: a removal the daemon confirms at a
// time the material was served is a false one.
func (w *World) OnlineAtN(h, n int, t time.Time) bool {
	s := w.genSite(h)
	if s == nil || n < 0 || n >= len(w.urls.dense) || s.behaviour.Kind == KindUnresolvable {
		return false
	}
	on, _ := s.behaviour.online(&w.urls.dense[n], w.removeAfter(s, n), s.movedAt.Load(), t)
	return on
}

// WillRemoveN says whether generated host h takes its material down once
// noticed (every behaviour but never and unresolvable).
func (w *World) WillRemoveN(h int) bool {
	s := w.genSite(h)
	return s != nil && s.behaviour.Kind != KindNever && s.behaviour.Kind != KindUnresolvable
}

// ResolvesN says whether generated host h has a DNS record.
func (w *World) ResolvesN(h int) bool {
	s := w.genSite(h)
	return s != nil && s.behaviour.Kind != KindUnresolvable
}

// genSite is generated host h, or nil.
func (w *World) genSite(h int) *site {
	if h < 0 || h >= len(w.gen) {
		return nil
	}
	return w.gen[h]
}

// KindCounts is how many generated hosts have each behaviour.
func (w *World) KindCounts() map[string]int {
	out := map[string]int{}
	for _, s := range w.gen {
		out[s.behaviour.Kind]++
	}
	return out
}

// SiteKind is the behaviour of the site at host, or "".
func (w *World) SiteKind(host string) string {
	if s := w.sites[strings.ToLower(host)]; s != nil {
		return s.behaviour.Kind
	}
	return ""
}

// wrapRDAP puts every registry behind the pace meter and the down switch.
func (w *World) wrapRDAP(registry string, h http.Handler) http.Handler {
	down := &atomic.Bool{}
	w.rdapFaults.Store(registry, down)
	host := registryHost(registry)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		arrived := w.now()
		if down.Load() {
			w.pace.observe(host, arrived, 0, "")
			hijackClose(rw)
			return
		}
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		w.pace.observe(host, arrived, rec.status, rec.Header().Get("Retry-After"))
	})
}

// SetRDAPDown makes the registries named (all when none) drop every
// connection without an answer, as a server that is gone does, or
// answer again.
func (w *World) SetRDAPDown(down bool, registries ...string) {
	w.rdapFaults.Range(func(k, v any) bool {
		if len(registries) == 0 || contains(registries, k.(string)) {
			v.(*atomic.Bool).Store(down)
		}
		return true
	})
}

// SetRDAPFault makes the registries named (all when none) answer as f
// says (rdapsim.Fault: 429 with Retry-After, 503 …); the zero Fault
// clears it.
func (w *World) SetRDAPFault(f rdapsim.Fault, registries ...string) {
	for _, srv := range w.RDAP.Servers() {
		if len(registries) == 0 || contains(registries, srv.Name) {
			srv.SetFault(f)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// hijackClose drops the connection without a response.
func hijackClose(rw http.ResponseWriter) {
	hj, ok := rw.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// registryHost is the real host a registry's limits are published for.
func registryHost(registry string) string {
	for _, r := range rdapsim.Registries() {
		if r.Name == registry {
			return r.Host
		}
	}
	return registry
}

var errNoHoster = errors.New("no hoster address")

// hosterTarget is the connect_to target of every world address.
func (w *World) hosterTarget() (string, error) {
	if w.Hoster == nil {
		return "", errNoHoster
	}
	return w.Hoster.Addr(), nil
}

// mapAddr sends a world address to the hoster in the daemon's config.
func (w *World) mapAddr(ip string) {
	t, _ := w.hosterTarget()
	w.connectTo[net.JoinHostPort(ip, "80")] = t
}
