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
