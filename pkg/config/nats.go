package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// NATS says which NATS to use: an embedded server (the default) or a
// server or cluster elsewhere when URLs is set.
type NATS struct {
	// URLs of a NATS server or cluster (nats://host:4222). Empty embeds a
	// server in this process.
	URLs []string `yaml:"urls"`
	// Embedded configures the embedded server (used when urls is empty).
	Embedded Embedded `yaml:"embedded"`
	// CredentialsFile, NKeyFile, User/Password and Token authenticate to a
	// remote NATS; use one. A replica of a daemon with an embedded server
	// uses that daemon's <data_dir>/nats-takedownd.nk as nkey_file.
	CredentialsFile string `yaml:"credentials_file"`
	NKeyFile        string `yaml:"nkey_file"`
	User            string `yaml:"user"`
	Password        Secret `yaml:"password"`
	Token           Secret `yaml:"token"`
	// TLS for a remote NATS: CA to trust, and a client certificate.
	TLS TLS `yaml:"tls"`
	// Replicas of every stream and bucket: 1, or 3 (or 5) on a cluster.
	Replicas int `yaml:"replicas"`
	// CallTimeout bounds each JetStream call.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// SetupRetries and SetupBackoff retry stream and bucket creation at
	// start (a fresh cluster may not have a leader yet).
	SetupRetries int           `yaml:"setup_retries"`
	SetupBackoff time.Duration `yaml:"setup_backoff"`
	// MaxPending bounds un-acked asynchronous publishes per connection.
	MaxPending int `yaml:"max_pending"`
}

// Embedded configures the in-process nats-server.
type Embedded struct {
	// Listen is where the analyst tool, the nats CLI and takedownctl reach
	// the embedded server. Port 0 picks a free port (the start-up log
	// names it). An address that is not loopback needs tls, or
	// insecure_listen.
	Listen string `yaml:"listen"`
	// InProcessOnly serves only this process, without a TCP listener.
	InProcessOnly bool `yaml:"in_process_only"`
	// MaxStore bounds the JetStream file store (bytes; 0 = server default).
	MaxStore int64 `yaml:"max_store"`
	// TLS makes the listener speak TLS only.
	TLS EmbeddedTLS `yaml:"tls"`
	// InsecureListen allows a listen address that is not loopback without
	// TLS. The nkeys never cross the wire, but reports (URLs of abuse
	// material) and case records would, in the clear: use it only on a
	// network that is itself encrypted (a VPN, a WireGuard link).
	InsecureListen bool `yaml:"insecure_listen"`
	// Auth says who may connect. Every client proves itself with an nkey;
	// the daemon creates the seed files in data_dir at first start (mode
	// 0600) for each role that the config does not name here.
	Auth EmbeddedAuth `yaml:"auth"`
}

// EmbeddedTLS is the embedded server's certificate.
type EmbeddedTLS struct {
	// CertFile and KeyFile are the server certificate (PEM) and its key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, also requires every client that connects
	// over TCP to show a certificate signed by this CA (PEM).
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the embedded server speaks TLS.
func (t EmbeddedTLS) Enabled() bool { return t.CertFile != "" }

// EmbeddedAuth names the credentials of the embedded server's users.
type EmbeddedAuth struct {
	// DaemonSeedFile is takedownd's own nkey seed, allowed everything.
	// Empty: <data_dir>/nats-takedownd.nk, created at first start.
	DaemonSeedFile string `yaml:"daemon_seed_file"`
	// AnalystKeys are the public nkeys (U…) of analyst tools, which may
	// only publish reports to intake.subject and receive the JetStream
	// acknowledgement. Empty: <data_dir>/nats-analyst.nk is created at
	// first start and its key allowed.
	AnalystKeys []string `yaml:"analyst_keys"`
	// CtlKeys are the public nkeys of takedownctl users, allowed what
	// takedownctl does on NATS (submit and resubmit reports; the rest goes
	// through the API). Empty: <data_dir>/nats-takedownctl.nk is created.
	CtlKeys []string `yaml:"ctl_keys"`
}

// TLS holds client TLS files for a remote NATS.
type TLS struct {
	// CAFile verifies the server; CertFile and KeyFile are our client
	// certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

func defaultNATS() NATS {
	return NATS{
		Embedded:     Embedded{Listen: "127.0.0.1:4222"},
		Replicas:     1,
		CallTimeout:  5 * time.Second,
		SetupRetries: 10,
		SetupBackoff: 500 * time.Millisecond,
		MaxPending:   4096,
	}
}

func (n *NATS) validate(c *checker) {
	if len(n.URLs) == 0 {
		n.Embedded.validate(c)
	}
	for i, u := range n.URLs {
		if !strings.Contains(u, "://") && !strings.Contains(u, ":") {
			c.add(fmt.Sprintf("nats.urls[%d]", i), "%q is not a NATS URL (nats://host:port)", u)
		}
	}
	if n.Replicas != 1 && n.Replicas != 3 && n.Replicas != 5 {
		c.add("nats.replicas", "must be 1, 3 or 5, got %d", n.Replicas)
	}
	if len(n.URLs) == 0 && n.Replicas != 1 {
		c.add("nats.replicas", "the embedded server is a single node: replicas must be 1")
	}
	if n.CallTimeout <= 0 {
		c.add("nats.call_timeout", "must be positive")
	}
	c.positive("nats.setup_retries", n.SetupRetries)
	if n.SetupBackoff <= 0 {
		c.add("nats.setup_backoff", "must be positive")
	}
	c.positive("nats.max_pending", n.MaxPending)
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		c.add("nats.tls", "cert_file and key_file go together")
	}
}

// CheckExposure refuses a listen address that is not loopback when the
// listener has no TLS and insecure_listen is not set. Validate checks it;
// the broker checks again at start, for configurations built in code.
func (e Embedded) CheckExposure() error {
	if p := e.exposure(); p != "" {
		return errors.New("nats.embedded.listen: " + p)
	}
	return nil
}

func (e Embedded) exposure() string {
	if e.InProcessOnly || e.TLS.Enabled() || e.InsecureListen {
		return ""
	}
	host, _, err := net.SplitHostPort(e.Listen)
	if err != nil || IsLoopbackHost(host) {
		return ""
	}
	return fmt.Sprintf("%q is not a loopback address: set nats.embedded.tls (cert_file, key_file), "+
		"or nats.embedded.insecure_listen: true to send reports over the network unencrypted", e.Listen)
}

func (e *Embedded) validate(c *checker) {
	if !e.InProcessOnly {
		c.listen("nats.embedded.listen", e.Listen, true, true)
		if p := e.exposure(); p != "" {
			c.add("nats.embedded.listen", "%s", p)
		}
	}
	if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
		c.add("nats.embedded.tls", "cert_file and key_file go together")
	}
	if e.TLS.ClientCAFile != "" && !e.TLS.Enabled() {
		c.add("nats.embedded.tls.client_ca_file", "needs cert_file and key_file: client certificates are checked over TLS")
	}
	c.userKeys("nats.embedded.auth.analyst_keys", e.Auth.AnalystKeys)
	c.userKeys("nats.embedded.auth.ctl_keys", e.Auth.CtlKeys)
}

func (c *checker) userKeys(key string, keys []string) {
	for i, k := range keys {
		if !nkeys.IsValidPublicUserKey(k) {
			c.add(fmt.Sprintf("%s[%d]", key, i), "%q is not a public user nkey (U…, as 'nk -gen user -pubout' prints)", shortKey(k))
		}
	}
}

// shortKey shows enough of a would-be key to find it, and never all of a
// seed pasted by mistake where the public key belongs.
func shortKey(k string) string {
	if strings.HasPrefix(k, "S") || len(k) > 12 {
		return k[:min(len(k), 4)] + "…"
	}
	return k
}
