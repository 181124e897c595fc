package natstest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
)

// holdMode says which of a link's connections stop moving bytes.
type holdMode int

const (
	holdNone   holdMode = iota
	holdAll             // every route connection: the node is cut off
	holdSystem          // the system account's: replication stops, clients' traffic flows
)

// sysRouteMark is how a route connection dedicated to the system account
// announces itself: the soliciting server's INFO names the account. The
// server pins the system account to a connection of its own (route
// pooling), and every Raft message — stream and consumer replication,
// the meta group, the JetStream API between servers — travels on it.
var sysRouteMark = []byte(`"route_account":"$SYS"`)

// link is a loopback TCP proxy that carries one node's route connections
// to another node. Held, it stops moving bytes without closing anything,
// so the node on the far side falls behind as a slow or partitioned
// replica would, and catches up when the link is released.
type link struct {
	ln net.Listener

	mu     sync.Mutex
	cond   *sync.Cond
	target string // the far node's cluster address; "" until it listens
	mode   holdMode
	closed bool
	conns  []net.Conn
}

// carried is one route connection through a link.
type carried struct{ sys atomic.Bool }

func newLink() (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{ln: ln}
	l.cond = sync.NewCond(&l.mu)
	go l.accept()
	return l, nil
}

func (l *link) addr() string { return l.ln.Addr().String() }

// setTarget points the link at the far node (again, after a restart).
func (l *link) setTarget(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.target = addr
	l.cond.Broadcast()
}

func (l *link) hold(m holdMode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode = m
	l.cond.Broadcast()
}

// cut closes the connections it carries (the far node stopped), so the
// near node notices at once instead of at its next ping.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

func (l *link) close() {
	_ = l.ln.Close()
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
	l.cut()
}

func (l *link) accept() {
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		go l.carry(in)
	}
}

// carry connects an accepted route connection (from the soliciting node)
// to the far node.
func (l *link) carry(in net.Conn) {
	l.mu.Lock()
	for l.target == "" && !l.closed {
		l.cond.Wait()
	}
	target, closed := l.target, l.closed
	l.mu.Unlock()
	if closed {
		_ = in.Close()
		return
	}
	out, err := net.Dial("tcp", target)
	if err != nil {
		_ = in.Close()
		return
	}
	l.mu.Lock()
	l.conns = append(l.conns, in, out)
	l.mu.Unlock()
	cc := &carried{}
	go l.pipe(in, out, cc, false)
	l.pipe(out, in, cc, true)
}

// blocks reports whether bytes of cc must wait. Lock held.
func (l *link) blocks(cc *carried) bool {
	return !l.closed && (l.mode == holdAll || l.mode == holdSystem && cc.sys.Load())
}

// pipe copies src to dst, waiting before each write while the link holds
// the connection. sniff reads what the soliciting node sends first, to
// tell the system account's connection from the others.
func (l *link) pipe(dst, src net.Conn, cc *carried, sniff bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	var head []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if sniff {
				head = append(head, buf[:n]...)
				if bytes.Contains(head, sysRouteMark) {
					cc.sys.Store(true)
				}
				// The INFO comes right after CONNECT; past a few KB it is
				// not coming.
				sniff = !cc.sys.Load() && len(head) < 16<<10
			}
			l.mu.Lock()
			for l.blocks(cc) {
				l.cond.Wait()
			}
			closed := l.closed
			l.mu.Unlock()
			if closed {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: the route reconnects
		}
	}
}
