package inbound

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
)

// startLimited runs a listener with the given client limits and clock.
func startLimited(t *testing.T, lim ClientLimits, now func() time.Time, reg prometheus.Registerer) *SMTPServer {
	t.Helper()
	s, err := NewSMTPServer(SMTPConfig{
		Listen: "127.0.0.1:0", Domain: "inbound.test", ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		MaxMessageBytes: 4096, MaxRecipients: 5, Domains: testDomains, Limits: lim, Now: now, Metrics: reg,
	}, &recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		_ = s.Close()
	})
	return s
}

// client opens a go-smtp client from the loopback address from (127.0.0.x:
// another client, as the listener counts them) and says EHLO; it returns
// the client and the reply code of the greeting or EHLO (0 when both
// succeeded).
func client(t *testing.T, s *SMTPServer, from string) (*gosmtp.Client, int) {
	t.Helper()
	c, code, err := dialHello(t, s, from)
	if err != nil {
		t.Fatal(err)
	}
	return c, code
}

// dialHello is client for other goroutines than the test's: it returns
// its error instead of failing the test.
func dialHello(t *testing.T, s *SMTPServer, from string) (*gosmtp.Client, int, error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.DialContext(t.Context(), "tcp", s.Addr().String())
	if err != nil {
		return nil, 0, fmt.Errorf("dial from %s: %w", from, err)
	}
	c := gosmtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = 10*time.Second, 10*time.Second
	t.Cleanup(func() { _ = c.Close() })
	return c, smtpCode(c.Hello("client.test")), nil
}

// waitFree waits until the listener counts no more than n connections, as
// closed ones are released.
func waitFree(t *testing.T, s *SMTPServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.clients.mu.Lock()
		open := s.clients.open
		s.clients.mu.Unlock()
		if open <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted, want at most %d", open, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSMTPConnectionCaps(t *testing.T) {
	t.Parallel()
	s := startLimited(t, ClientLimits{
		MaxConnections: 4, MaxPerClient: 2, MessagesPerMinute: 600, Burst: 100,
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")},
	}, nil, nil)

	a1, code1 := client(t, s, "127.0.0.1")
	_, code2 := client(t, s, "127.0.0.1")
	_, code3 := client(t, s, "127.0.0.1")
	if code1 != 0 || code2 != 0 || code3 != 421 {
		t.Fatalf("three connections of one client: %d, %d, %d; want 0, 0, 421", code1, code2, code3)
	}
	if _, code := client(t, s, "127.0.0.2"); code != 0 {
		t.Fatalf("another client refused: %d", code)
	}
	// The trusted client has no per-client bound, but the global one holds.
	if _, code := client(t, s, "127.0.0.9"); code != 0 {
		t.Fatalf("trusted client refused: %d", code)
	}
	if _, code := client(t, s, "127.0.0.9"); code != 421 {
		t.Fatalf("a fifth connection: %d, want 421 (max_connections 4)", code)
	}
	// A connection that ends frees its place.
	if err := a1.Quit(); err != nil {
		t.Fatal(err)
	}
	waitFree(t, s, 3)
	c, code := client(t, s, "127.0.0.1")
	if code != 0 {
		t.Fatalf("after a connection closed: %d, want it accepted", code)
	}
	if err := c.SendMail("a@hoster-a.nl", []string{"abuse@hotline.example"}, strings.NewReader("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatalf("mail over an admitted connection: %v", err)
	}
}

// TestSMTPFloodIsBounded: the flood, smaller: 200 connections at
// once from 20 addresses find at most max_connections greeted, and the
// rest answered 421, not left waiting.
func TestSMTPFloodIsBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	s := startLimited(t, ClientLimits{MaxConnections: 50, MaxPerClient: 10, MessagesPerMinute: 60, Burst: 10}, nil, reg)
	var (
		mu            sync.Mutex
		greeted, n421 int
		wg            sync.WaitGroup
	)
	for i := range 200 {
		wg.Go(func() {
			_, code, err := dialHello(t, s, "127.0.1."+strconv.Itoa(1+i%20))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			switch code {
			case 0:
				greeted++
			case 421:
				n421++
			default:
				t.Errorf("connection %d: %d", i, code)
			}
		})
	}
	wg.Wait()
	if greeted > 50 || greeted+n421 != 200 {
		t.Errorf("%d greeted, %d refused with 421; want at most 50 greeted and the rest refused", greeted, n421)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var refused float64
	for _, mf := range mfs {
		if mf.GetName() == "takedownd_inbound_smtp_refused_total" {
			for _, m := range mf.GetMetric() {
				refused += m.GetCounter().GetValue()
			}
		}
	}
	if int(refused) != n421 {
		t.Errorf("takedownd_inbound_smtp_refused_total = %v, want %d", refused, n421)
	}
}

func TestSMTPClientMessageRate(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	s := startLimited(t, ClientLimits{
		MaxConnections: 10, MaxPerClient: 5, MessagesPerMinute: 60, Burst: 3,
		Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")},
	}, clock.Now, nil)
	send := func(c *gosmtp.Client) int {
		t.Helper()
		code := smtpCode(c.Mail("a@hoster-a.nl", nil))
		if code == 0 {
			if err := c.Reset(); err != nil {
				t.Fatal(err)
			}
		}
		return code
	}
	a, _ := client(t, s, "127.0.0.1")
	for i := range 3 {
		if code := send(a); code != 0 {
			t.Fatalf("message %d within the burst: %d", i, code)
		}
	}
	if code := send(a); code != 451 {
		t.Fatalf("a fourth message at once: %d, want 451", code)
	}
	// The same client on a second connection shares its rate.
	a2, _ := client(t, s, "127.0.0.1")
	if code := send(a2); code != 451 {
		t.Fatalf("the same client on another connection: %d, want 451", code)
	}
	if b, _ := client(t, s, "127.0.0.2"); send(b) != 0 {
		t.Fatal("another client is held to the first one's rate")
	}
	trusted, _ := client(t, s, "127.0.0.9")
	for i := range 10 {
		if code := send(trusted); code != 0 {
			t.Fatalf("trusted client, message %d: %d", i, code)
		}
	}
	clock.Add(time.Second) // one message a second
	if code := send(a); code != 0 {
		t.Fatalf("a second later: %d, want one more allowed", code)
	}
	if code := send(a); code != 451 {
		t.Fatalf("and then: %d, want 451", code)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestClientTableStaysSmall(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	tab := newClientTable(ClientLimits{MaxConnections: 10, MaxPerClient: 2, MessagesPerMinute: 60, Burst: 5}, clock.Now)
	held := netip.MustParsePrefix("198.51.100.1/32")
	if r := tab.admit(held, false); r != "" {
		t.Fatal(r)
	}
	for i := range 3 * maxIdleClients {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		key := netip.PrefixFrom(a, 32)
		if r := tab.admit(key, false); r != "" {
			t.Fatal(r)
		}
		tab.allowMessage(key, false)
		tab.release(key)
		if i%1000 == 0 {
			clock.Add(time.Minute)
		}
	}
	tab.mu.Lock()
	n, heldState := len(tab.clients), tab.clients[held]
	tab.mu.Unlock()
	if n > 10+maxIdleClients {
		t.Errorf("%d clients kept, bound %d", n, 10+maxIdleClients)
	}
	if heldState == nil || heldState.conns != 1 {
		t.Errorf("the client with an open connection was dropped: %+v", heldState)
	}
}
