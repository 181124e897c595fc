package world_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/app"
	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/simnet/world"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// TestDaemonAgainstTheWorld is the README's quickstart in one test: the
// world writes the daemon's config, the daemon starts from that file, a
// report goes in through NATS with the analyst's key, the notice reaches
// the world's relay, the simulated hoster removes the material, and the
// daemon confirms the removal. The schedule is shortened; nothing else.
func TestDaemonAgainstTheWorld(t *testing.T) {
	dir := t.TempDir()
	mix, err := world.ParseShares("remove=1", world.Kinds...)
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Start(t.Context(), world.Options{
		Dir: filepath.Join(dir, "world"), Listen: world.FreeAddrs, KeepMail: true, URLs: 10,
		Plan: world.Plan{Hosts: 4, Networks: 3, Domains: 2, Mix: mix, RemoveAfter: [2]time.Duration{time.Second, time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "takedownd.yaml")
	if err := w.WriteConfig(cfgPath, world.Daemon{
		DataDir: data, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0", BatchWindow: -1,
		Cadence: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, ConfirmGone: 2, ConfirmSpacing: 500 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(world.PartnerSecretEnv, w.PartnerSecret())
	cfg, err := app.LoadConfig(cfgPath, "")
	if err != nil {
		t.Fatalf("the world's config does not load: %v", err)
	}
	if cfg.Recheck.Probe.AllowPrivate {
		t.Error("the world's config allows private addresses")
	}
	a, err := app.New(t.Context(), app.Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("daemon stopped with %v", err)
		}
	})

	notices := make(chan world.Notice, 16)
	w.Watch(func(n world.Notice) { notices <- n })
	removable := world.URL(w.Host(0), 0)
	unresolvable := "http://www.no-such-host-sim.com/demo/a.jpg"
	publish(t, a.NATSURL(), data, "r-0", removable)
	publish(t, a.NATSURL(), data, "r-1", unresolvable)

	select {
	case n := <-notices:
		if n.Kind != "first" || len(n.Items) != 1 || n.Items[0].URL != removable || len(n.To) != 1 || !strings.HasPrefix(n.To[0], "abuse@net") {
			t.Errorf("first notice = %+v", n)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("no notice reached the world's relay")
	}
	token, err := os.ReadFile(filepath.Join(data, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := waitState(t, a.APIAddr(), strings.TrimSpace(string(token)), removable, takedown.StateRemoved)
	if gone, ok := w.RemovedAt(removable); !ok || c.Checks == nil || c.Checks.RemovedAt.Before(gone) {
		t.Errorf("confirmed removal %+v before the hoster removed (%v, %v)", c.Checks, gone, ok)
	}
	waitState(t, a.APIAddr(), strings.TrimSpace(string(token)), unresolvable, takedown.StateUnresolvable)
	mails, _ := filepath.Glob(filepath.Join(dir, "world", "mail", "*.eml"))
	if len(mails) == 0 {
		t.Error("no mail kept in the world's mail dir")
	}
	for _, p := range w.Pace().Report() {
		if p.TooFast > 0 || p.Early > 0 {
			t.Errorf("rdap %s asked too fast: %+v", p.Server, p)
		}
	}
}

// publish sends a report as the analyst tool does, with its key.
func publish(t *testing.T, natsURL, data, id, u string) {
	t.Helper()
	opts, err := broker.ClientOptions(broker.RoleAnalyst, broker.SeedFile(data, broker.RoleAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	body, _ := json.Marshal(map[string]string{"report_id": id, "url": u, "confirmed_at": time.Now().UTC().Format(time.RFC3339), "classification": "A1"})
	msg := nats.NewMsg("takedown.reports")
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
}

// waitState polls the API until the case of u is in state want.
func waitState(t *testing.T, apiAddr, token, u string, want takedown.State) takedown.Case {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var last takedown.State
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+apiAddr+"/v1/cases?url="+url.QueryEscape(u), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var v api.CaseView
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&v) == nil {
				last = v.Case.State
				if last == want {
					resp.Body.Close()
					return v.Case
				}
			}
			resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("case of %s is %s, not %s, after 3 minutes", u, last, want)
	return takedown.Case{}
}
