package smtpsim

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// relayListener is the relay's socket. It counts connections and can take
// the relay off the network: down closes the socket (new connections are
// refused, as from a relay that is gone) and every open session; up
// listens on the same address again. go-smtp keeps serving through it and
// never sees the gap.
type relayListener struct {
	addr string
	n    *atomic.Int64

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	isDown bool
	upCh   chan struct{} // closed when the relay is up again
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
		l.mu.Lock()
		ln, closed, up := l.ln, l.closed, l.upCh
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if ln == nil {
			<-up
			continue
		}
		c, err := ln.Accept()
		if err != nil {
			l.mu.Lock()
			down := l.isDown && !l.closed
			l.mu.Unlock()
			if down {
				continue // taken down under us: wait for up
			}
			return nil, err
		}
		l.n.Add(1)
		tc := &trackedConn{Conn: c, l: l}
		l.mu.Lock()
		if l.isDown || l.closed {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// down closes the socket and every open connection; a second call does
// nothing.
func (l *relayListener) down() error {
	l.mu.Lock()
	if l.isDown || l.closed {
		l.mu.Unlock()
		return nil
	}
	l.isDown = true
	l.upCh = make(chan struct{})
	err := l.ln.Close()
	l.ln = nil
	open := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	l.mu.Unlock()
	for _, c := range open {
		_ = c.Close() // takes l.mu to forget itself
	}
	return err
}

// up listens on the same address again.
func (l *relayListener) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.isDown || l.closed {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listen smtpsim again on %s: %w", l.addr, err)
	}
	l.ln, l.isDown = ln, false
	close(l.upCh)
	return nil
}

func (l *relayListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.upCh != nil && l.isDown {
		close(l.upCh)
	}
	if l.ln == nil {
		return nil
	}
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
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
