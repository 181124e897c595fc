package config

import (
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestEmbeddedNATSListenNeedsLoopbackOrTLS(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	tests := []struct {
		name    string
		change  func(e *Embedded)
		problem string // "" when valid
	}{
		{"loopback v4", func(e *Embedded) { e.Listen = "127.0.0.1:4222" }, ""},
		{"loopback v6", func(e *Embedded) { e.Listen = "[::1]:4222" }, ""},
		{"localhost", func(e *Embedded) { e.Listen = "localhost:4222" }, ""},
		{"every interface", func(e *Embedded) { e.Listen = "0.0.0.0:4222" }, "nats.embedded.listen: \"0.0.0.0:4222\" is not a loopback address: set nats.embedded.tls (cert_file, key_file), or nats.embedded.insecure_listen: true"},
		{"empty host", func(e *Embedded) { e.Listen = ":4222" }, "nats.embedded.insecure_listen"},
		{"a name", func(e *Embedded) { e.Listen = "nats.hotline.example:4222" }, "nats.embedded.insecure_listen"},
		{"every interface with tls", func(e *Embedded) {
			e.Listen, e.TLS = "0.0.0.0:4222", EmbeddedTLS{CertFile: "c.pem", KeyFile: "k.pem"}
		}, ""},
		{"every interface, insecure on purpose", func(e *Embedded) { e.Listen, e.InsecureListen = "0.0.0.0:4222", true }, ""},
		{"in-process only ignores listen", func(e *Embedded) { e.Listen, e.InProcessOnly = "0.0.0.0:4222", true }, ""},
		{"cert without key", func(e *Embedded) { e.TLS.CertFile = "c.pem" }, "nats.embedded.tls: cert_file and key_file go together"},
		{"client ca without cert", func(e *Embedded) { e.TLS.ClientCAFile = "ca.pem" }, "nats.embedded.tls.client_ca_file: needs cert_file and key_file"},
		{"public keys", func(e *Embedded) { e.Auth.AnalystKeys, e.Auth.CtlKeys = []string{pub}, []string{pub} }, ""},
		{"a seed where the public key belongs", func(e *Embedded) {
			e.Auth.CtlKeys = []string{pub, string(seed)}
		}, `nats.embedded.auth.ctl_keys[1]: "` + string(seed[:4]) + `…" is not a public user nkey`},
	}
	for _, tc := range tests {
		cfg := Default()
		tc.change(&cfg.NATS.Embedded)
		err := cfg.Validate()
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.problem)
		}
		if err != nil && strings.Contains(err.Error(), string(seed[:12])) {
			t.Errorf("%s: the error shows a whole seed: %v", tc.name, err)
		}
	}
	remote := Default()
	remote.NATS.URLs = []string{"nats://nats-1:4222"}
	remote.NATS.Embedded.Listen = "0.0.0.0:4222"
	if err := remote.Validate(); err != nil {
		t.Errorf("the embedded listen address is checked though nats.urls is set: %v", err)
	}
}
