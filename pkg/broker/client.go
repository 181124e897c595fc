package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/takedownd/takedownd/pkg/config"
)

// ClientOptions are the nats.go options that connect as role r with the
// nkey seed in seedFile: the key, and for the daemon's key its inbox
// prefix. Tools and tests that reach an embedded server use them.
func ClientOptions(r Role, seedFile string) ([]nats.Option, error) {
	key, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		return nil, fmt.Errorf("load %s nkey %s: %w", r, seedFile, err)
	}
	opts := []nats.Option{key}
	if r == RoleDaemon {
		opts = append(opts, nats.CustomInboxPrefix(InboxPrefix))
	}
	return opts, nil
}

// baseOptions are the daemon's connection settings, wherever NATS is.
func baseOptions(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Replies to the daemon carry case records: see InboxPrefix.
		nats.CustomInboxPrefix(InboxPrefix),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "err", err)
		}),
	}
}

// remoteAuth are the options that authenticate to a remote NATS, and
// which config key they come from, so that a refusal can name it.
func remoteAuth(cfg config.NATS) (opts []nats.Option, from string, err error) {
	var keys []string
	if cfg.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
		keys = append(keys, "nats.credentials_file "+cfg.CredentialsFile)
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("load nats.nkey_file: %w", err)
		}
		opts = append(opts, o)
		keys = append(keys, "nats.nkey_file "+cfg.NKeyFile)
	}
	if cfg.User != "" {
		pw, err := cfg.Password.Resolve()
		if err != nil {
			return nil, "", fmt.Errorf("nats.password: %w", err)
		}
		opts = append(opts, nats.UserInfo(cfg.User, pw))
		keys = append(keys, fmt.Sprintf("nats.user %q with nats.password", cfg.User))
	}
	if cfg.Token.IsSet() {
		tok, err := cfg.Token.Resolve()
		if err != nil {
			return nil, "", fmt.Errorf("nats.token: %w", err)
		}
		opts = append(opts, nats.Token(tok))
		keys = append(keys, "nats.token")
	}
	if cfg.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLS.CAFile))
	}
	if cfg.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLS.CertFile, cfg.TLS.KeyFile))
	}
	from = strings.Join(keys, ", ")
	if from == "" {
		from = "none configured: set nats.nkey_file, nats.credentials_file, nats.user or nats.token"
	}
	return opts, from, nil
}

// connectError says why a first connection failed: a refusal of our
// credentials names them (never their value), anything else as it is.
func connectError(urls string, from string, err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) {
		return fmt.Errorf("connect nats %s: the server refused our credentials (%s): %w", urls, from, err)
	}
	return fmt.Errorf("connect nats %s: %w", urls, err)
}

// redactedURLs joins the server URLs for nats.Connect and for messages,
// the latter without any password written into a URL.
func redactedURLs(urls []string) (join, shown string) {
	shownURLs := make([]string, len(urls))
	for i, u := range urls {
		shownURLs[i] = u
		if p, err := url.Parse(u); err == nil && p.User != nil {
			shownURLs[i] = p.Redacted()
		}
	}
	return strings.Join(urls, ","), strings.Join(shownURLs, ",")
}
