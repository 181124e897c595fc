package broker

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM files in a temp dir.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "takedownd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		return certFile, keyFile
	}
	p := pki{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.ca, "CERTIFICATE", caDER)
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// analystOpts are the analyst's key plus extra options.
func analystOpts(t *testing.T, dir string, extra ...nats.Option) []nats.Option {
	t.Helper()
	opts, err := ClientOptions(RoleAnalyst, SeedFile(dir, RoleAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	return append(opts, extra...)
}

func TestTLSListener(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	dir := t.TempDir()
	cfg := embeddedConfig()
	cfg.Embedded.TLS.CertFile, cfg.Embedded.TLS.KeyFile = p.serverCert, p.serverKey
	b := openBroker(t, cfg, dir, discard())
	if _, err := b.JS.AccountInfo(t.Context()); err != nil {
		t.Errorf("the daemon cannot use its own TLS server: %v", err)
	}
	url := b.ClientURL()
	if !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Errorf("client URL %q, want tls://127.0.0.1:…", url)
	}

	// The server asks for TLS before anything else is said.
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "tls://"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	info, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Errorf("server greeting %q (%v), want tls_required", info, err)
	}

	if nc, err := nats.Connect(url, analystOpts(t, dir)...); err == nil {
		nc.Close()
		t.Error("a client that does not trust the CA connected")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: err = %v, want a certificate error", err)
	}
	nc, err := nats.Connect(url, analystOpts(t, dir, nats.RootCAs(p.ca))...)
	if err != nil {
		t.Fatalf("connect over TLS: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	nc.Close()
}

func TestTLSListenerWithClientCertificates(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	dir := t.TempDir()
	cfg := embeddedConfig()
	cfg.Embedded.TLS.CertFile, cfg.Embedded.TLS.KeyFile, cfg.Embedded.TLS.ClientCAFile = p.serverCert, p.serverKey, p.ca
	b := openBroker(t, cfg, dir, discard())
	if _, err := b.JS.AccountInfo(t.Context()); err != nil {
		t.Errorf("the daemon (in-process, no certificate) cannot use its own server: %v", err)
	}
	if nc, err := nats.Connect(b.ClientURL(), analystOpts(t, dir, nats.RootCAs(p.ca))...); err == nil {
		nc.Close()
		t.Error("a client without a certificate connected")
	}
	nc, err := nats.Connect(b.ClientURL(), analystOpts(t, dir, nats.RootCAs(p.ca), nats.ClientCert(p.clientCert, p.clientKey))...)
	if err != nil {
		t.Fatalf("connect with a client certificate: %v", err)
	}
	nc.Close()

	// A key without a certificate, or a certificate without a key: both needed.
	if nc, err := nats.Connect(b.ClientURL(), nats.RootCAs(p.ca), nats.ClientCert(p.clientCert, p.clientKey)); err == nil {
		nc.Close()
		t.Error("a client certificate without an nkey was let in")
	}
}

func TestTLSFilesThatDoNotLoadAreNamed(t *testing.T) {
	t.Parallel()
	cfg := embeddedConfig()
	cfg.Embedded.TLS.CertFile, cfg.Embedded.TLS.KeyFile = filepath.Join(t.TempDir(), "missing.pem"), "missing-key.pem"
	_, err := Open(t.Context(), Options{Config: cfg, DataDir: t.TempDir(), ReportSubject: reports, Log: discard()})
	if err == nil || !strings.Contains(err.Error(), "nats.embedded.tls") || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("err = %v, want it to name nats.embedded.tls and the file", err)
	}
}
