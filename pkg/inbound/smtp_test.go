package inbound

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// recorder is a fake of our own Ingestor: it keeps what it was given and
// fails while told to.
type recorder struct {
	mu   sync.Mutex
	msgs [][]byte
	fail error
}

func (r *recorder) Ingest(_ context.Context, raw []byte) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return Result{}, r.fail
	}
	r.msgs = append(r.msgs, bytes.Clone(raw))
	return Result{Kind: KindReply}, nil
}

func (r *recorder) got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs
}

func startSMTP(t *testing.T, ing Ingestor, tlsCfg *tls.Config) *SMTPServer {
	t.Helper()
	s, err := NewSMTPServer(SMTPConfig{
		Listen: "127.0.0.1:0", Domain: "inbound.test", ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxMessageBytes: 4096, MaxRecipients: 5, Domains: testDomains, TLS: tlsCfg,
	}, ing, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// smtpCode is the reply code of a refused command, 0 for success.
func smtpCode(err error) int {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestSMTPListener(t *testing.T) {
	t.Parallel()
	msg := "From: a@hoster-a.nl\r\nSubject: hi\r\n\r\nremoved\r\n"
	tests := []struct {
		name       string
		from, rcpt string
		body       string
		fail       error
		rcptCode   int
		dataCode   int
		delivered  string // a header line the recorded message must start with
	}{
		{name: "reply address accepted", from: "a@hoster-a.nl", rcpt: "abuse+TD-20261126-7F3K2Q@hotline.example", body: msg,
			delivered: "Return-Path: <a@hoster-a.nl>\r\nDelivered-To: abuse+td-20261126-7f3k2q@hotline.example\r\n"},
		{name: "null sender of a bounce accepted", from: "", rcpt: "abuse@HOTLINE.example", body: msg,
			delivered: "Return-Path: <>\r\nDelivered-To: abuse@hotline.example\r\n"},
		{name: "other domain refused: no open relay", from: "a@hoster-a.nl", rcpt: "victim@elsewhere.example", body: msg, rcptCode: 550},
		{name: "too large refused", from: "a@hoster-a.nl", rcpt: "abuse@hotline.example", body: msg + strings.Repeat(strings.Repeat("x", 98)+"\r\n", 50), dataCode: 552},
		{name: "not recorded: sender retries", from: "a@hoster-a.nl", rcpt: "abuse@hotline.example", body: msg, fail: errors.New("nats down"), dataCode: 451},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{fail: tt.fail}
			s := startSMTP(t, rec, nil)
			c, err := gosmtp.Dial(s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Mail(tt.from, nil); err != nil {
				t.Fatal(err)
			}
			if got := smtpCode(c.Rcpt(tt.rcpt, nil)); got != tt.rcptCode {
				t.Fatalf("RCPT answered %d, want %d", got, tt.rcptCode)
			}
			if tt.rcptCode != 0 {
				if len(rec.got()) != 0 {
					t.Error("a refused message was ingested")
				}
				return
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(w, tt.body)
			if got := smtpCode(w.Close()); got != tt.dataCode {
				t.Fatalf("DATA answered %d, want %d", got, tt.dataCode)
			}
			msgs := rec.got()
			if tt.dataCode != 0 {
				if len(msgs) != 0 {
					t.Errorf("%d messages ingested, want none", len(msgs))
				}
				return
			}
			if len(msgs) != 1 || !strings.HasPrefix(string(msgs[0]), tt.delivered) || !strings.HasSuffix(string(msgs[0]), "removed\r\n") {
				t.Errorf("ingested %q, want it to start with %q and keep the body", msgs, tt.delivered)
			}
		})
	}
}

func TestSMTPStartTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	rec := &recorder{}
	s := startSMTP(t, rec, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	c, err := gosmtp.DialStartTLS(s.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("", []string{"abuse@hotline.example"}, strings.NewReader("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok || len(rec.got()) != 1 {
		t.Errorf("tls %v, %d messages; want one message over TLS", ok, len(rec.got()))
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
