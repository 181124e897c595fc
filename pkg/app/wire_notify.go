package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/contacthealth"
	"github.com/takedownd/takedownd/pkg/notice"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/notify/natsfwd"
	"github.com/takedownd/takedownd/pkg/notify/outbox"
	"github.com/takedownd/takedownd/pkg/notify/smtp"
	"github.com/takedownd/takedownd/pkg/notify/webhook"
	"github.com/takedownd/takedownd/pkg/route"
)

// addNotify wires routing (the policy runs in the notify stage), batching and delivery: SMTP when a relay is
// configured, else the outbox directory, and webhooks for partners.
func (a *App) addNotify(ctx context.Context, _ broker.Retrier) error {
	cfg := a.cfg.Notify
	log := a.log.With("component", "notify")
	partners, err := route.LoadPartners(a.cfg.Route.PartnersFile)
	if err != nil {
		return err
	}
	delete(partners, a.cfg.Route.HotlineCountry)
	policy := route.Policy{
		HotlineCountry: a.cfg.Route.HotlineCountry, DomesticLang: a.cfg.Route.DomesticLang,
		AbroadWithoutPartner: a.cfg.Route.AbroadWithoutPartner, CDNNotice: a.cfg.Route.CDNNotice, Partners: partners,
	}
	rcfg := notice.Config{TemplateDir: cfg.TemplatesDir, PlainReplyTo: cfg.PlainReplyTo}
	if cfg.DKIM.KeyFile != "" {
		signer, err := notice.LoadDKIMKey(cfg.DKIM.KeyFile)
		if err != nil {
			return err
		}
		rcfg.DKIM = &notice.DKIM{Domain: cfg.DKIM.Domain, Selector: cfg.DKIM.Selector, Signer: signer}
	}
	renderer, err := notice.NewRenderer(rcfg)
	if err != nil {
		return err
	}
	plain, err := a.mailer(cfg.SMTP)
	if err != nil {
		return err
	}
	mailer := newMeteredMailer(plain, a.metrics)
	webhooks := map[string]notify.Forwarder{}
	for country, p := range partners {
		if p.Channel != "webhook" || p.Address == "" || p.Disabled {
			continue
		}
		secret := os.Getenv(p.SecretEnv)
		if secret == "" {
			return fmt.Errorf("partner %s (%s): webhook secret: environment variable %q is not set", p.Name, country, p.SecretEnv)
		}
		fw, err := webhook.New(webhook.Config{URL: p.Address, Secret: []byte(secret)}, nil, log, a.now)
		if err != nil {
			return fmt.Errorf("partner %s: %w", p.Name, err)
		}
		webhooks[country] = webhookForwarder{fw}
	}
	signer, err := a.verpSigner()
	if err != nil {
		return err
	}
	health, err := a.contactHealth(ctx)
	if err != nil {
		return err
	}
	chains := map[string][]string{}
	for kind, esc := range a.cfg.Recheck.Routes {
		chains[kind] = esc.Escalate
	}
	stage, err := notify.New(ctx, a.store, notify.Options{
		VERP:   signer,
		Health: health, Chains: chains,
		Config: cfg, Policy: policy, Renderer: renderer, Mailer: mailer, Webhooks: webhooks,
		NATS: natsForwarder{natsfwd.New(a.broker.Conn, a.broker.JS, a.cfg.NATS.CallTimeout, log)},
		OnNoticed: func(ctx context.Context, caseID string, at time.Time) error {
			if a.onNoticed == nil {
				return nil
			}
			return a.onNoticed(ctx, caseID, at)
		},
		Now: a.now, Log: log, RouteWorkers: a.cfg.Route.Workers,
	})
	if err != nil {
		return err
	}
	a.addRunner("notify", stage)
	a.api.ServeNotices(stage)
	a.notices = stage
	return nil
}

// contactHealth is the one contact-health book of the daemon, shared by
// routing (which skips failing addresses) and inbound (which marks them).
func (a *App) contactHealth(ctx context.Context) (*contacthealth.Book, error) {
	if a.health != nil {
		return a.health, nil
	}
	b, err := contacthealth.Open(ctx, a.store, a.cfg.Notify.ContactHealthTTL)
	if err != nil {
		return nil, err
	}
	a.health = b
	return b, nil
}

// mailer is the SMTP relay, or the outbox when no relay is configured.
func (a *App) mailer(cfg config.SMTP) (notify.Mailer, error) {
	if cfg.Host == "" {
		ob, err := outbox.New(a.cfg.DataDir, a.log.With("component", "outbox"))
		if err != nil {
			return nil, err
		}
		a.log.Info("no smtp relay configured: notices are written to the outbox, nothing is sent", "dir", ob.Dir())
		return ob, nil
	}
	scfg := smtp.Config{
		Host: cfg.Host, Port: cfg.Port, TLS: smtp.TLSMode(cfg.TLS), HeloName: cfg.HeloName,
		Username: cfg.Username, CommandTimeout: cfg.CommandTimeout, MessageTimeout: cfg.MessageTimeout, PoolSize: cfg.PoolSize,
	}
	if cfg.Password.IsSet() {
		pw, err := cfg.Password.Resolve()
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.password: %w", err)
		}
		scfg.Password = pw
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify.smtp.ca_file: no certificates in %s", cfg.CAFile)
		}
		scfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	sender, err := smtp.New(scfg, a.log.With("component", "smtp"), a.now)
	if err != nil {
		return nil, err
	}
	a.cleanup.add("smtp", sender.Close)
	a.log.Info("notices go to the smtp relay", "relay", cfg.Host, "tls", strings.ToLower(cfg.TLS))
	return sender, nil
}

// natsForwarder adapts the natsfwd package's result to the stage.
type natsForwarder struct{ fw *natsfwd.Forwarder }

func (n natsForwarder) Forward(ctx context.Context, subject, ref string, body []byte) (bool, error) {
	res := n.fw.Forward(ctx, subject, ref, body)
	return res.Retry, res.Err
}

// webhookForwarder adapts the webhook package's result to the stage.
type webhookForwarder struct{ fw *webhook.Forwarder }

func (w webhookForwarder) Forward(ctx context.Context, ref string, body []byte) (bool, error) {
	res := w.fw.Forward(ctx, ref, body)
	return res.Retry, res.Err
}
