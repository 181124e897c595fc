package deploy

import (
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
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/takedownd/takedownd/pkg/clustercreds"
)

// nodes are the NATS node files of deploy/nats/, each naming its server.
var nodes = []struct{ file, name string }{
	{"nats/nats-1.conf", "nats-1"},
	{"nats/nats-2.conf", "nats-2"},
	{"nats/nats-3.conf", "nats-3"},
}

// credentials runs the generator the README tells operators to run, into
// dir, with the given route addresses (nil: the defaults).
func credentials(t *testing.T, dir string, routes []string) clustercreds.Result {
	t.Helper()
	res, err := clustercreds.Generate(dir, clustercreds.Options{Routes: routes, Log: discard()})
	if err != nil {
		t.Fatalf("generate credentials: %v", err)
	}
	return res
}

// nodeEnv puts nats.env's variables into the environment, as systemd's
// EnvironmentFile= and compose's env_file: do for a node. Tests that call
// it cannot run in parallel (t.Setenv refuses).
func nodeEnv(t *testing.T, res clustercreds.Result) {
	t.Helper()
	for _, v := range res.Env {
		t.Setenv(v.Name, v.Value)
	}
}

// nodeOptions parses a node's file as nats-server -c does.
func nodeOptions(t *testing.T, file string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("nats-server config %s: %v", file, err)
	}
	return opts
}

// absPath finds an absolute path in a config file: after a space, a quote
// or an opening bracket, a path under one of the directories a deployment
// puts files in.
var absPath = regexp.MustCompile(`([\s"'\[{,=])/(etc|var|run|usr)/`)

// underRoot moves every absolute path in text below root, as if root were
// the host (or container) the file is written for.
func underRoot(text, root string) string {
	return absPath.ReplaceAllString(text, "${1}"+filepath.ToSlash(root)+"/$2/")
}

// writeFile writes data to path, making its directory.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a file of the repository to path.
func copyFile(t *testing.T, src, path string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b, 0o644)
}

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key,
// as an operator's CA would issue one, and returns the certificate's PEM
// for clients to trust.
func selfSigned(t *testing.T, certFile, keyFile string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "takedownd deploy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	writeFile(t, certFile, cert, 0o644)
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return cert
}

// lines are a file's lines without comments and blank lines.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
