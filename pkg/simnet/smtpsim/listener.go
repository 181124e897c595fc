package smtpsim

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// relayListener is the relay's socket. It counts connections and can take
// the relay off the network: down ends every open session and resets each
// new connection as soon as it is made (as a relay that is gone, or whose
// host's firewall rejects, looks to a client: no greeting, the connection
// reset); up lets them through again. The socket itself stays open all
// along, so that no other program takes the port while the relay is down
// — on a busy machine a closed port soon serves someone else's test, and
// the relay could not come back where the daemon's config points. go-smtp
// keeps serving through it and never sees the gap.
type relayListener struct {
	addr string
	n    *atomic.Int64
	ln   net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	isDown bool
	closed bool
}

func newRelayListener(addr string, n *atomic.Int64) (*relayListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen smtpsim: %w", err)
	}
	return &relayListener{addr: ln.Addr().String(), n: n, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

func (l *relayListener) Accept() (net.Conn, error) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return nil, err
		}
		l.n.Add(1)
		tc := &trackedConn{Conn: c, l: l}
		l.mu.Lock()
		if l.isDown || l.closed {
			l.mu.Unlock()
			reset(c)
			continue
		}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// reset closes c with a TCP reset rather than an orderly close.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// down resets every open connection and, until up, each new one; a second
// call does nothing.
func (l *relayListener) down() error {
	l.mu.Lock()
	if l.isDown || l.closed {
		l.mu.Unlock()
		return nil
	}
	l.isDown = true
	open := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c.(*trackedConn))
	}
	l.mu.Unlock()
	for _, c := range open {
		c.reset() // takes l.mu to forget itself
	}
	return nil
}

// up lets connections through again.
func (l *relayListener) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.isDown = false
	return nil
}

func (l *relayListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	err := l.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (l *relayListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

type trackedConn struct {
	net.Conn
	l    *relayListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.forget()
	return c.Conn.Close()
}

// reset ends the session as a relay that went away would.
func (c *trackedConn) reset() {
	c.forget()
	reset(c.Conn)
}

func (c *trackedConn) forget() {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
}
