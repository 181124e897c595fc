package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/broker"
	"github.com/takedownd/takedownd/pkg/config"
	"github.com/takedownd/takedownd/pkg/inbound"
	"github.com/takedownd/takedownd/pkg/notify"
	"github.com/takedownd/takedownd/pkg/recheck"
	"github.com/takedownd/takedownd/pkg/store"
)

// addInbound wires the receiving of replies and bounces: the SMTP
// listener and the drop directory (each only when configured) feed one
// ingester, which reads notices from the notify stage's bucket and asks
// re-checks for an immediate check after a hoster's reply.
func (a *App) addInbound(ctx context.Context, _ broker.Retrier) error {
	cfg := a.cfg.Inbound
	if cfg.SMTP.Listen == "" && cfg.Dir == "" {
		return nil
	}
	log := a.log.With("component", "inbound")
	domains := cfg.Domains
	if len(domains) == 0 {
		_, d, _ := strings.Cut(a.cfg.Notify.From, "@")
		domains = []string{d}
	}
	notices, err := inbound.OpenKVNotices(ctx, a.store, notify.NoticesBucket)
	if err != nil {
		return err
	}
	signer, err := a.verpSigner()
	if err != nil {
		return err
	}
	health, err := a.contactHealth(ctx)
	if err != nil {
		return err
	}
	ing, err := inbound.New(ctx, inbound.Options{
		VERP: signer, Health: health,
		Store: a.store, Notices: notices, RequestCheck: a.checkAfterReply,
		Domains: domains, DedupWindow: cfg.DedupWindow, Now: a.now, Log: log,
	})
	if err != nil {
		return err
	}
	if cfg.SMTP.Listen != "" {
		scfg := inbound.SMTPConfig{
			Listen: cfg.SMTP.Listen, Domain: cfg.SMTP.Domain, ReadTimeout: cfg.SMTP.ReadTimeout, WriteTimeout: cfg.SMTP.WriteTimeout,
			MaxMessageBytes: cfg.MaxMessageBytes, MaxRecipients: cfg.SMTP.MaxRecipients, Domains: domains,
			IngestTimeout: 4 * a.cfg.NATS.CallTimeout,
			Limits: inbound.ClientLimits{
				MaxConnections: cfg.SMTP.MaxConnections, MaxPerClient: cfg.SMTP.MaxConnectionsPerClient,
				MessagesPerMinute: cfg.SMTP.ClientMessagesPerMinute, Burst: cfg.SMTP.ClientMessageBurst,
			},
			Metrics: a.metrics, Now: a.now,
		}
		for _, p := range cfg.SMTP.TrustedClients {
			prefix, err := config.ParsePrefixOrAddr(p) // validated at load
			if err != nil {
				return fmt.Errorf("inbound.smtp.trusted_clients: %w", err)
			}
			scfg.Limits.Trusted = append(scfg.Limits.Trusted, prefix)
		}
		if cfg.SMTP.TLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.SMTP.TLSCertFile, cfg.SMTP.TLSKeyFile)
			if err != nil {
				return fmt.Errorf("inbound.smtp tls: %w", err)
			}
			scfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		srv, err := inbound.NewSMTPServer(scfg, ing, log)
		if err != nil {
			return err
		}
		a.cleanup.add("inbound smtp", srv.Close)
		a.addServer("inbound smtp", srv)
	}
	if cfg.Dir != "" {
		dir, err := inbound.NewDir(inbound.DirConfig{Dir: cfg.Dir, PollInterval: cfg.PollInterval, MaxMessageBytes: cfg.MaxMessageBytes}, ing, log)
		if err != nil {
			return err
		}
		a.addRunner("inbound dir", dir)
		log.Info("inbound drop directory watched", "dir", cfg.Dir)
	}
	return nil
}

// replyCheckGap is the least time between a check and one a reply asks
// for: anyone can write to a reply address, and a flood of replies must
// not become a flood of probes at the hoster.
const replyCheckGap = time.Minute

// checkAfterReply asks for an immediate check of a case a hoster replied
// about, if the case is being checked at all and was not just checked.
func (a *App) checkAfterReply(ctx context.Context, caseID string) error {
	c, _, err := a.store.GetCase(ctx, caseID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !recheck.Checkable(c) {
		return nil
	}
	if c.Checks != nil && a.now().Sub(c.Checks.LastCheckedAt) < replyCheckGap {
		return nil
	}
	return recheck.RequestCheck(ctx, a.store, caseID, "reply")
}

// InboundAddr is the address of the inbound SMTP listener ("" if none).
func (a *App) InboundAddr() string {
	for _, p := range a.parts {
		if s, ok := p.r.(*inbound.SMTPServer); ok {
			return s.Addr().String()
		}
	}
	return ""
}
