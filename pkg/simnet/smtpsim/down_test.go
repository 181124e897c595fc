package smtpsim

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// While the relay is down a client gets no greeting, only a reset
// connection, and the port stays the relay's: no other program can take
// it, so the relay comes back where the daemon's config points even on a
// machine where others take ports all the time.
func TestDownHoldsThePort(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for round := range 2 {
		if err := s.SetDown(true); err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", s.Addr()); err == nil {
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				t.Errorf("round %d: greeting %q from a relay that is down", round, line)
			}
			c.Close()
		}
		if ln, err := net.Listen("tcp", s.Addr()); err == nil {
			ln.Close()
			t.Fatalf("round %d: another listener took the port of the relay while it was down", round)
		}
		if err := s.SetDown(false); err != nil {
			t.Fatal(err)
		}
		if err := send(t, s.Addr()); err != nil {
			t.Fatalf("round %d: send after up: %v", round, err)
		}
	}
}
