package smtp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/takedownd/takedownd/pkg/simnet/smtpsim"
)

const testMsg = "From: abuse@hotline.example\r\nTo: abuse@hoster.example\r\nSubject: [TD-1] test\r\nMessage-Id: <TD-1@hotline.example>\r\n\r\nbody line\r\n.leading dot\r\n"

func startSim(t testing.TB, opts smtpsim.Options) *smtpsim.Server {
	t.Helper()
	sim, err := smtpsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func newSender(t testing.TB, sim *smtpsim.Server, mod func(*Config)) *Sender {
	t.Helper()
	cfg := Config{
		Host:      sim.Host(),
		Port:      sim.Port(),
		TLS:       TLSNone,
		TLSConfig: &tls.Config{RootCAs: sim.CertPool()},
		HeloName:  "takedownd.hotline.example",
		PoolSize:  2,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func outcomes(r Result) map[string]Outcome {
	m := map[string]Outcome{}
	for _, rr := range r.Recipients {
		m[rr.Rcpt] = rr.Outcome
	}
	return m
}

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	const a, b = "abuse@a.example", "abuse@b.example"
	tests := []struct {
		name      string
		faults    map[string]smtpsim.Fault
		want      map[string]Outcome
		wantErr   bool
		wantSaved int
	}{
		{name: "accepted", want: map[string]Outcome{a: Accepted, b: Accepted}, wantSaved: 1},
		{name: "one recipient 4xx", faults: map[string]smtpsim.Fault{b: smtpsim.TempRcpt}, want: map[string]Outcome{a: Accepted, b: Temporary}, wantSaved: 1},
		{name: "one recipient 5xx", faults: map[string]smtpsim.Fault{a: smtpsim.PermRcpt}, want: map[string]Outcome{a: Permanent, b: Accepted}, wantSaved: 1},
		{name: "every recipient 5xx", faults: map[string]smtpsim.Fault{"": smtpsim.PermRcpt}, want: map[string]Outcome{a: Permanent, b: Permanent}},
		{name: "message 4xx", faults: map[string]smtpsim.Fault{"": smtpsim.TempData}, want: map[string]Outcome{a: Temporary, b: Temporary}, wantErr: true},
		{name: "message 5xx", faults: map[string]smtpsim.Fault{"": smtpsim.PermData}, want: map[string]Outcome{a: Permanent, b: Permanent}, wantErr: true},
		{name: "5xx recipient then 4xx message", faults: map[string]smtpsim.Fault{a: smtpsim.PermRcpt, b: smtpsim.TempData}, want: map[string]Outcome{a: Permanent, b: Temporary}, wantErr: true},
		{name: "dropped in DATA", faults: map[string]smtpsim.Fault{"": smtpsim.DropData}, want: map[string]Outcome{a: Temporary, b: Temporary}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, smtpsim.Options{})
			for rcpt, f := range tt.faults {
				sim.SetFault(rcpt, f)
			}
			s := newSender(t, sim, nil)
			res := s.Send(t.Context(), "abuse@hotline.example", []string{a, b}, []byte(testMsg))
			if got := outcomes(res); !mapsEqual(got, tt.want) {
				t.Errorf("outcomes = %v, want %v (err %v)", got, tt.want, res.Err)
			}
			if (res.Err != nil) != tt.wantErr {
				t.Errorf("Err = %v, want error %v", res.Err, tt.wantErr)
			}
			msgs := sim.Messages()
			if len(msgs) != tt.wantSaved {
				t.Fatalf("relay kept %d messages, want %d", len(msgs), tt.wantSaved)
			}
			if tt.wantSaved == 1 {
				m := msgs[0]
				if !bytes.Contains(m.Data, []byte("\r\n.leading dot\r\n")) {
					t.Errorf("dot-stuffing lost a line: %q", m.Data)
				}
				if m.Helo != "takedownd.hotline.example" {
					t.Errorf("EHLO name = %q", m.Helo)
				}
				if !slices.Equal(m.To, res.Accepted()) {
					t.Errorf("relay got rcpts %v, result accepted %v", m.To, res.Accepted())
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]Outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSendTLSAndAuth(t *testing.T) {
	t.Parallel()
	users := map[string]string{"takedownd": "s3cret"}
	tests := []struct {
		name      string
		opts      smtpsim.Options
		mod       func(*Config)
		wantOut   Outcome
		wantErrIs error
		wantTLS   bool
		wantUser  string
	}{
		{name: "starttls required and offered", opts: smtpsim.Options{StartTLS: true}, mod: func(c *Config) { c.TLS = TLSStartTLS }, wantOut: Accepted, wantTLS: true},
		{name: "starttls required but not offered", opts: smtpsim.Options{}, mod: func(c *Config) { c.TLS = TLSStartTLS }, wantOut: Temporary, wantErrIs: ErrNoStartTLS},
		{name: "starttls with untrusted certificate", opts: smtpsim.Options{StartTLS: true}, mod: func(c *Config) { c.TLS, c.TLSConfig = TLSStartTLS, nil }, wantOut: Temporary},
		{name: "implicit tls", opts: smtpsim.Options{ImplicitTLS: true}, mod: func(c *Config) { c.TLS = TLSImplicit }, wantOut: Accepted, wantTLS: true},
		{name: "auth over starttls", opts: smtpsim.Options{StartTLS: true, Users: users}, mod: func(c *Config) { c.TLS, c.Username, c.Password = TLSStartTLS, "takedownd", "s3cret" }, wantOut: Accepted, wantTLS: true, wantUser: "takedownd"},
		{name: "auth on loopback without tls", opts: smtpsim.Options{Users: users}, mod: func(c *Config) { c.Username, c.Password = "takedownd", "s3cret" }, wantOut: Accepted, wantUser: "takedownd"},
		{name: "wrong password", opts: smtpsim.Options{Users: users}, mod: func(c *Config) { c.Username, c.Password = "takedownd", "nope" }, wantOut: Temporary},
		{name: "auth required but not configured", opts: smtpsim.Options{Users: users}, wantOut: Temporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, tt.opts)
			s := newSender(t, sim, tt.mod)
			res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg))
			if got := res.Recipients[0].Outcome; got != tt.wantOut {
				t.Fatalf("outcome = %v, want %v (err %v)", got, tt.wantOut, res.Err)
			}
			if tt.wantErrIs != nil && !errors.Is(res.Err, tt.wantErrIs) {
				t.Errorf("Err = %v, want %v", res.Err, tt.wantErrIs)
			}
			if tt.wantOut != Accepted {
				if n := len(sim.Messages()); n != 0 {
					t.Errorf("relay kept %d messages after a refused session", n)
				}
				return
			}
			m := sim.Messages()[0]
			if m.TLS != tt.wantTLS || m.AuthUser != tt.wantUser {
				t.Errorf("session tls=%v user=%q, want tls=%v user=%q", m.TLS, m.AuthUser, tt.wantTLS, tt.wantUser)
			}
			if m.Helo != "takedownd.hotline.example" {
				t.Errorf("EHLO name = %q", m.Helo)
			}
		})
	}
}

func TestPoolReusesConnections(t *testing.T) {
	t.Parallel()
	sim := startSim(t, smtpsim.Options{StartTLS: true})
	s := newSender(t, sim, func(c *Config) { c.TLS = TLSStartTLS })
	for i := range 5 {
		if res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg)); res.Err != nil {
			t.Fatalf("send %d: %v", i, res.Err)
		}
	}
	if n := sim.Connections(); n != 1 {
		t.Errorf("5 sequential sends used %d connections, want 1", n)
	}
	if n := len(sim.Messages()); n != 5 {
		t.Errorf("relay kept %d messages, want 5", n)
	}
}

func TestPoolReconnectsAfterDrop(t *testing.T) {
	t.Parallel()
	sim := startSim(t, smtpsim.Options{})
	s := newSender(t, sim, nil)
	sim.SetFault("", smtpsim.DropData)
	if res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg)); res.Recipients[0].Outcome != Temporary {
		t.Fatalf("dropped send outcome = %v", res.Recipients[0].Outcome)
	}
	sim.SetFault("", smtpsim.OK)
	if res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg)); res.Err != nil {
		t.Fatalf("send after drop: %v", res.Err)
	}
	if n := sim.Connections(); n != 2 {
		t.Errorf("used %d connections, want 2 (one dropped, one new)", n)
	}
}

func TestPoolBound(t *testing.T) {
	t.Parallel()
	sim := startSim(t, smtpsim.Options{})
	s := newSender(t, sim, func(c *Config) { c.PoolSize = 2 })
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg)); res.Err != nil {
				t.Errorf("send: %v", res.Err)
			}
		})
	}
	wg.Wait()
	if n := sim.Connections(); n > 2 {
		t.Errorf("20 concurrent sends opened %d connections, pool holds 2", n)
	}
	if n := len(sim.Messages()); n != 20 {
		t.Errorf("relay kept %d messages, want 20", n)
	}
}

func TestStalledRelayTimesOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{name: "submission timeout", mod: func(c *Config) { c.SubmissionTimeout = 100 * time.Millisecond }},
		{name: "message deadline", mod: func(c *Config) { c.MessageTimeout = 200 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, smtpsim.Options{})
			sim.SetFault("", smtpsim.Stall)
			s := newSender(t, sim, tt.mod)
			res := s.Send(t.Context(), "abuse@hotline.example", []string{"abuse@a.example"}, []byte(testMsg))
			if got := res.Recipients[0].Outcome; got != Temporary || res.Err == nil {
				t.Errorf("outcome = %v err = %v, want temporary with an error", got, res.Err)
			}
		})
	}
}

func TestSendRejectsBadEnvelope(t *testing.T) {
	t.Parallel()
	sim := startSim(t, smtpsim.Options{})
	s := newSender(t, sim, nil)
	tests := []struct {
		name  string
		from  string
		rcpts []string
	}{
		{name: "no recipients", from: "abuse@hotline.example"},
		{name: "injection in recipient", from: "abuse@hotline.example", rcpts: []string{"a@b.example>\r\nRCPT TO:<c@d.example"}},
		{name: "bad sender", from: "not an address", rcpts: []string{"a@b.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Send(t.Context(), tt.from, tt.rcpts, []byte(testMsg))
			if res.Err == nil || len(res.Accepted()) != 0 || len(res.Temporary()) != 0 {
				t.Errorf("result %+v, want a permanent refusal", res)
			}
		})
	}
	if sim.Connections() != 0 {
		t.Errorf("a bad envelope opened a connection")
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		wantErr  bool
		wantPort int
	}{
		{name: "starttls default port", cfg: Config{Host: "relay.example", HeloName: "me.example"}, wantPort: 587},
		{name: "implicit default port", cfg: Config{Host: "relay.example", HeloName: "me.example", TLS: TLSImplicit}, wantPort: 465},
		{name: "no helo name", cfg: Config{Host: "relay.example"}, wantErr: true},
		{name: "unknown tls mode", cfg: Config{Host: "relay.example", HeloName: "me.example", TLS: "maybe"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.setDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("setDefaults() = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (tt.cfg.Port != tt.wantPort || tt.cfg.TLS == "" || tt.cfg.CommandTimeout != 30*time.Second) {
				t.Errorf("defaults = %+v", tt.cfg)
			}
		})
	}
}
