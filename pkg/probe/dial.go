package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver turns a host name into addresses. The prober resolves names
// itself, rather than letting net.Dialer do it, so that every address it
// dials has passed CheckAddr; tests inject one that answers 127.0.0.1 for a
// public-looking name to prove the dial-time refusal. A name that does not
// exist should be reported as a *net.DNSError with IsNotFound set.
type Resolver interface {
	LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error)
}

// SystemResolver is the Resolver backed by the operating system's
// configuration through net.Resolver.
type SystemResolver struct {
	// Resolver is the resolver used; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// LookupNetIP implements Resolver.
func (s SystemResolver) LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error) {
	r := s.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return r.LookupNetIP(ctx, "ip", host)
}

// addrPolicy is the SSRF guard: CheckAddr, minus the operator's exceptions.
type addrPolicy struct {
	allowAll bool
	allow    []netip.Prefix
}

// check returns nil when a may be dialled.
func (p addrPolicy) check(a netip.Addr) error {
	if p.allowAll {
		return nil
	}
	for _, pre := range p.allow {
		if pre.Contains(a.Unmap()) {
			return nil
		}
	}
	return CheckAddr(a)
}

// dialer connects only to addresses that its policy allows. The check runs in net.Dialer.ControlContext on the address
// the socket is about to connect to, which is the one place a DNS answer
// cannot slip past: whatever resolved it, that is where the packets go.
type dialer struct {
	resolver  Resolver
	connectTo map[string]string
	policy    addrPolicy
	net       net.Dialer
}

func newDialer(resolver Resolver, connectTo map[string]string, policy addrPolicy, timeout time.Duration) *dialer {
	d := &dialer{resolver: resolver, connectTo: normaliseConnectTo(connectTo), policy: policy}
	d.net = net.Dialer{Timeout: timeout, ControlContext: d.control}
	return d
}

// normaliseConnectTo lower-cases the keys so that "Example.org:443" and the
// transport's "example.org:443" meet.
func normaliseConnectTo(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

func (d *dialer) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("parse dial address %q: %w", address, err)
	}
	return d.policy.check(ap.Addr())
}

// DialContext connects to addr ("host:port" as the transport asks for it),
// after mapping it through connectTo and resolving it. Addresses that fail
// CheckAddr are skipped before dialing, so a mixed DNS answer still reaches
// its public addresses; control refuses them again at the socket. An
// address the host resolves to may itself be mapped ("ip:port" keys), so a
// simulated internet can send each public-looking address to its stand-in.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if target, ok := d.connectTo[strings.ToLower(addr)]; ok {
		return d.dialTarget(ctx, network, target)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("split dial address %q: %w", addr, err)
	}
	return d.dialHost(ctx, network, host, port, true)
}

// dialHost resolves host and dials its addresses in turn, each through
// connectTo when mapped is set and its "ip:port" is listed, else guarded.
func (d *dialer) dialHost(ctx context.Context, network, host, port string, mapped bool) (net.Conn, error) {
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		var (
			conn net.Conn
			err  error
		)
		if target, ok := d.connectTo[net.JoinHostPort(a.String(), port)]; ok && mapped {
			if conn, err = d.dialTarget(ctx, network, target); err == nil {
				conn = asFrom(conn, a, port)
			}
		} else if err = d.policy.check(a); err == nil {
			conn, err = d.net.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		}
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return nil, errors.Join(errs...)
}

// dialTarget connects to a connect_to target. One written as an address is
// dialled as written, loopback included: the operator named it, and the
// guard is about the addresses that URLs and DNS answers bring in, which
// an operator does not choose. Without this a connect_to to a stand-in on
// loopback would need allow_private, which opens every address. A target
// written as a name is resolved and guarded like a URL's host (and is not
// mapped again).
func (d *dialer) dialTarget(ctx context.Context, network, target string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("split connect_to target %q: %w", target, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return d.dialHost(ctx, network, host, port, false)
	}
	want := ip.Unmap()
	exact := d.net // the same timeouts; only the socket check differs
	exact.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("parse dial address %q: %w", address, err)
		}
		if ap.Addr().Unmap() != want {
			return d.policy.check(ap.Addr())
		}
		return nil
	}
	return exact.DialContext(ctx, network, target)
}

func (d *dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := d.resolver.LookupNetIP(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	return addrs, nil
}

// mappedConn is a connection to a connect_to stand-in for address from:
// it names from as its remote end, so what the prober reports (and a
// re-check compares with the enrichment) is the address DNS gave, as on
// the internet, not the stand-in's.
type mappedConn struct {
	net.Conn
	from net.Addr
}

func (c mappedConn) RemoteAddr() net.Addr { return c.from }

func asFrom(c net.Conn, a netip.Addr, port string) net.Conn {
	p, err := strconv.Atoi(port)
	if err != nil {
		return c
	}
	return mappedConn{Conn: c, from: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(p)))}
}
