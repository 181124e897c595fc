package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCertificate writes a self-signed certificate for 127.0.0.1 and its
// key as PEM files in dir, and returns their paths and a pool that trusts
// the certificate.
func writeCertificate(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "takedownd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With api.tls_cert_file and api.tls_key_file the API speaks HTTPS: a TLS
// client that trusts the certificate gets answers, a plain one does not,
// and a client that connects and sends nothing is cut off after the read
// header timeout.
func TestAPIOverTLSWithTimeouts(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	certFile, keyFile, pool := writeCertificate(t, t.TempDir())
	cfg.API.TLSCertFile, cfg.API.TLSKeyFile = certFile, keyFile
	cfg.API.ReadHeaderTimeout = 300 * time.Millisecond
	d := startDaemon(t, cfg)
	addr := d.app.APIAddr()
	if ap, err := netip.ParseAddrPort(addr); err != nil || !ap.Addr().IsLoopback() {
		t.Fatalf("api address %q", addr)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/v1/cases", testToken, http.StatusOK},
		{"/v1/cases", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET https://%s%s: %v", addr, tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.TLS == nil {
			t.Errorf("GET %s: %d (tls %v), want %d over TLS", tc.path, resp.StatusCode, resp.TLS != nil, tc.want)
		}
	}

	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP got an answer from the TLS listener")
		}
	}

	// A client that connects and sends nothing is cut off.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("a silent connection was not closed by the server: %v", err)
	}
}
