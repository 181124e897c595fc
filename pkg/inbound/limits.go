package inbound

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ClientLimits bound what the SMTP listener gives the clients that reach
// it: anyone who can reach the MX can connect, so connections and messages
// must be bounded or a flood takes every socket and fills the dead
// letters. Refusals are temporary (4xx): a legitimate MTA queues its
// message and tries again later, so nothing is lost, only delayed.
type ClientLimits struct {
	// MaxConnections bounds the connections open at once, all clients
	// together; one more is greeted with 421 and closed.
	MaxConnections int
	// MaxPerClient bounds the connections of one client (an IPv4 address,
	// or an IPv6 /64, which one host can fill with addresses).
	MaxPerClient int
	// MessagesPerMinute and Burst bound the messages (MAIL commands) one
	// client may send; more are answered 451 4.7.1 for the client to retry.
	MessagesPerMinute int
	Burst             int
	// Trusted clients (the hotline's own MX in front of the listener) are
	// exempt from the per-client bounds, not from MaxConnections.
	Trusted []netip.Prefix
}

// Why a client is refused, as the metrics and the debug log say it.
const (
	refusedConnections       = "connections"
	refusedClientConnections = "client_connections"
	refusedClientRate        = "client_rate"
)

// clientTable counts the open connections of every client and keeps its
// message rate. Entries of clients with no connection whose rate has
// refilled carry nothing and are dropped, so the table stays small.
type clientTable struct {
	lim ClientLimits
	now func() time.Time

	mu      sync.Mutex
	open    int
	clients map[netip.Prefix]*clientState
}

type clientState struct {
	conns int
	rate  *rate.Limiter
}

// maxIdleClients is how many clients without a connection the table keeps
// (for their message rate) before it drops the ones whose rate refilled,
// then any idle one: an attacker with many addresses costs memory only up
// to this bound.
const maxIdleClients = 10000

func newClientTable(lim ClientLimits, now func() time.Time) *clientTable {
	if now == nil {
		now = time.Now
	}
	return &clientTable{lim: lim, now: now, clients: map[netip.Prefix]*clientState{}}
}

// clientKey is the client a remote address belongs to, and whether it is
// trusted.
func (t *clientTable) clientKey(addr net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	key, _ := ip.Prefix(bits)
	for _, p := range t.lim.Trusted {
		if p.Contains(ip) {
			return key, true
		}
	}
	return key, false
}

// admit counts a new connection of the client, or says why it is refused.
func (t *clientTable) admit(key netip.Prefix, trusted bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lim.MaxConnections > 0 && t.open >= t.lim.MaxConnections {
		return refusedConnections
	}
	c := t.client(key)
	if !trusted && t.lim.MaxPerClient > 0 && c.conns >= t.lim.MaxPerClient {
		return refusedClientConnections
	}
	c.conns++
	t.open++
	return ""
}

// release uncounts a connection of the client.
func (t *clientTable) release(key netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open--
	if c, ok := t.clients[key]; ok {
		c.conns--
	}
}

// allowMessage takes one message from the client's rate.
func (t *clientTable) allowMessage(key netip.Prefix, trusted bool) bool {
	if trusted || t.lim.MessagesPerMinute <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.client(key).rate.AllowN(t.now(), 1)
}

// client is the client's entry, made when missing; mu is held.
func (t *clientTable) client(key netip.Prefix) *clientState {
	if c, ok := t.clients[key]; ok {
		return c
	}
	if len(t.clients) >= t.lim.MaxConnections+maxIdleClients {
		t.dropIdle()
	}
	burst := max(t.lim.Burst, 1)
	c := &clientState{rate: rate.NewLimiter(rate.Limit(float64(t.lim.MessagesPerMinute)/60), burst)}
	t.clients[key] = c
	return c
}

// dropIdle removes clients with no connection, those whose rate has
// refilled first (they lose nothing); if that is not enough, every idle
// one (they lose their rate history, which only favours them). mu is held.
func (t *clientTable) dropIdle() {
	now := t.now()
	for k, c := range t.clients {
		if c.conns == 0 && c.rate.TokensAt(now) >= float64(c.rate.Burst()) {
			delete(t.clients, k)
		}
	}
	if len(t.clients) < t.lim.MaxConnections+maxIdleClients {
		return
	}
	for k, c := range t.clients {
		if c.conns == 0 {
			delete(t.clients, k)
		}
	}
}

// limitedListener refuses connections over the bounds before go-smtp sees
// them: go-smtp greets every connection it accepts.
type limitedListener struct {
	net.Listener
	table   *clientTable
	domain  string
	log     *slog.Logger
	refused func(reason string)
}

// refuseWriteTimeout bounds the 421 to a refused client: a client that
// does not read does not hold up the accept loop.
const refuseWriteTimeout = 500 * time.Millisecond

// Accept returns the next connection within the bounds; one over them is
// answered 421 and closed.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, trusted := l.table.clientKey(c.RemoteAddr())
		reason := l.table.admit(key, trusted)
		if reason == "" {
			return &countedConn{Conn: c, release: func() { l.table.release(key) }}, nil
		}
		l.refused(reason)
		l.log.Debug("inbound smtp connection refused", "reason", reason, "client", key.String())
		what := "too many connections, try again later"
		if reason == refusedClientConnections {
			what = "too many connections from your address, try again later"
		}
		_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		_, _ = fmt.Fprintf(c, "421 4.7.0 %s %s\r\n", l.domain, what)
		_ = c.Close()
	}
}

// countedConn uncounts its client once when it closes.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
