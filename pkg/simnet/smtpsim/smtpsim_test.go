package smtpsim

import (
	"errors"
	"net"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

func TestFaultsPerRecipientAndGlobal(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetFault("", PermRcpt)
	s.SetFault("OK@Example.test", OK)
	tests := []struct {
		name     string
		rcpt     string
		wantCode int
	}{
		{name: "own fault wins, case-insensitive", rcpt: "ok@example.test"},
		{name: "global fault", rcpt: "other@example.test", wantCode: 550},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			c := gosmtp.NewClient(conn)
			defer c.Close()
			if err := c.Hello("client.test"); err != nil {
				t.Fatal(err)
			}
			if err := c.Mail("a@example.test", nil); err != nil {
				t.Fatal(err)
			}
			err = c.Rcpt(tt.rcpt, nil)
			var se *gosmtp.SMTPError
			code := 0
			if errors.As(err, &se) {
				code = se.Code
			}
			if code != tt.wantCode {
				t.Errorf("RCPT %s answered %v, want code %d", tt.rcpt, err, tt.wantCode)
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// send delivers one message to the relay and returns the first error.
func send(t *testing.T, addr string) error {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := gosmtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail("a@example.test", nil); err != nil {
		return err
	}
	if err := c.Rcpt("b@example.test", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		return err
	}
	return w.Close()
}

func TestDownUpAndOnMessage(t *testing.T) {
	t.Parallel()
	var seen []Message
	s, err := New(Options{Discard: true, OnMessage: func(m Message) { seen = append(seen, m) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := send(t, s.Addr()); err != nil {
		t.Fatalf("send while up: %v", err)
	}
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	if err := send(t, s.Addr()); err == nil {
		t.Fatal("send while down succeeded")
	}
	if err := s.SetDown(false); err != nil {
		t.Fatal(err)
	}
	if err := send(t, s.Addr()); err != nil {
		t.Fatalf("send after up: %v", err)
	}
	if len(seen) != 2 || len(s.Messages()) != 0 {
		t.Errorf("OnMessage saw %d, Messages kept %d; want 2 and none kept", len(seen), len(s.Messages()))
	}
}

func TestTempFailRate(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetTempFailRate(1)
	err = send(t, s.Addr())
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) || se.Code/100 != 4 {
		t.Fatalf("send = %v, want a 4xx", err)
	}
	if s.TempFailures() != 1 {
		t.Errorf("temp failures = %d, want 1", s.TempFailures())
	}
	s.SetTempFailRate(0)
	if err := send(t, s.Addr()); err != nil {
		t.Errorf("send with the rate off: %v", err)
	}
}
