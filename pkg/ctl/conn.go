package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults match the daemon's: its API and embedded NATS listen on
// loopback at these ports, its data dir is "data", and it writes the API
// token to the file TokenFileName and takedownctl's NATS key to
// NATSKeyFileName in that dir (see pkg/app and pkg/broker).
const (
	DefaultAPI      = "http://127.0.0.1:8080"
	DefaultNATS     = "nats://127.0.0.1:4222"
	DefaultData     = "data"
	DefaultSubject  = "takedown.reports"
	DefaultTimeout  = 10 * time.Second
	TokenFileName   = "api-token"
	NATSKeyFileName = "nats-takedownctl.nk"
)

// The environment variables takedownctl reads; a flag beats its variable.
const (
	EnvAPI       = "TAKEDOWN_API"
	EnvNATS      = "TAKEDOWN_NATS"
	EnvNATSCreds = "TAKEDOWN_NATS_CREDS"
	EnvNATSNKey  = "TAKEDOWN_NATS_NKEY"
	EnvNATSCA    = "TAKEDOWN_NATS_CA"
	EnvSubject   = "TAKEDOWN_SUBJECT"
	EnvToken     = "TAKEDOWN_TOKEN"
	EnvTokenFile = "TAKEDOWN_TOKEN_FILE"
	EnvData      = "TAKEDOWN_DATA"
)

// connFlags say where the daemon is and how to prove who we are.
type connFlags struct {
	api, nats, natsCreds, natsCA string
	natsNKey                     string
	subject                      string
	token, tokenFile, data       string
	timeout                      time.Duration
	env                          Env
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// defaults fill in what the environment says, so that flags registered
// afterwards override it.
func (f *connFlags) defaults(env Env) {
	f.env = env
	f.api = orDefault(env.getenv(EnvAPI), DefaultAPI)
	f.nats = orDefault(env.getenv(EnvNATS), DefaultNATS)
	f.natsCreds = env.getenv(EnvNATSCreds)
	f.natsNKey = env.getenv(EnvNATSNKey)
	f.natsCA = env.getenv(EnvNATSCA)
	f.subject = orDefault(env.getenv(EnvSubject), DefaultSubject)
	f.data = orDefault(env.getenv(EnvData), DefaultData)
	f.timeout = DefaultTimeout
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.api, "api", f.api, "status API base URL (env "+EnvAPI+")")
	fs.StringVar(&f.nats, "nats", f.nats, "NATS server URL(s), comma-separated (env "+EnvNATS+")")
	fs.StringVar(&f.natsCreds, "nats-creds", f.natsCreds, "NATS credentials file (env "+EnvNATSCreds+")")
	fs.StringVar(&f.natsNKey, "nats-nkey", f.natsNKey, "NATS nkey seed file (env "+EnvNATSNKey+"; default DIR/"+NATSKeyFileName+" of -data)")
	fs.StringVar(&f.natsCA, "nats-ca", f.natsCA, "CA file to verify a TLS NATS server (env "+EnvNATSCA+")")
	fs.StringVar(&f.subject, "subject", f.subject, "report subject (env "+EnvSubject+")")
	fs.StringVar(&f.token, "token", f.token, "API bearer token (env "+EnvToken+")")
	fs.StringVar(&f.tokenFile, "token-file", f.tokenFile, "file holding the API token (env "+EnvTokenFile+")")
	fs.StringVar(&f.data, "data", f.data, "daemon data dir whose "+TokenFileName+" file is the token of last resort (env "+EnvData+")")
	fs.DurationVar(&f.timeout, "timeout", f.timeout, "deadline of each call to the API or NATS")
}

// subjectChosen reports whether the user named the report subject, by flag
// or environment, rather than leaving the default.
func (f *connFlags) subjectChosen(fs *flag.FlagSet) bool {
	chosen := f.env.getenv(EnvSubject) != ""
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "subject" {
			chosen = true
		}
	})
	return chosen
}

// apiToken finds the token: -token, -token-file, $TAKEDOWN_TOKEN,
// $TAKEDOWN_TOKEN_FILE, then <data>/api-token. It also says where it
// found it, so an error about the token can name its source.
func (f *connFlags) apiToken() (token, source string, err error) {
	if f.token != "" {
		return f.token, "-token", nil
	}
	if f.tokenFile != "" {
		return readToken(f.tokenFile, "-token-file")
	}
	if t := f.env.getenv(EnvToken); t != "" {
		return t, "$" + EnvToken, nil
	}
	if p := f.env.getenv(EnvTokenFile); p != "" {
		return readToken(p, "$"+EnvTokenFile)
	}
	path := filepath.Join(f.data, TokenFileName)
	token, source, err = readToken(path, "data dir")
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", withCode(ExitUnauthorized, fmt.Errorf(
			"no API token: pass -token or -token-file, set %s or %s, or point -data (%s) at the daemon's data dir (%s does not exist)",
			EnvToken, EnvTokenFile, EnvData, path))
	}
	return token, source, err
}

func readToken(path, via string) (string, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", "", withCode(ExitUnauthorized, fmt.Errorf("read API token (%s): %w", via, err))
		}
		return "", "", withCode(ExitError, fmt.Errorf("read API token (%s): %w", via, err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", "", withCode(ExitUnauthorized, fmt.Errorf("API token file %s (%s) is empty", path, via))
	}
	return tok, path, nil
}

// natsAuth finds how to prove who we are to NATS: -nats-creds or
// -nats-nkey (or their variables), else the key the daemon wrote for
// takedownctl in the data dir, else nothing (a NATS without auth). It
// also says where it found them, for the error when NATS refuses.
func (f *connFlags) natsAuth() ([]nats.Option, string, error) {
	var opts []nats.Option
	var from []string
	if f.natsCreds != "" {
		opts = append(opts, nats.UserCredentials(f.natsCreds))
		from = append(from, "credentials file "+f.natsCreds)
	}
	nkey := f.natsNKey
	if nkey == "" && f.natsCreds == "" {
		if p := filepath.Join(f.data, NATSKeyFileName); fileExists(p) {
			nkey = p
		}
	}
	if nkey != "" {
		o, err := nats.NkeyOptionFromSeed(nkey)
		if err != nil {
			return nil, "", withCode(ExitUnauthorized, fmt.Errorf("read NATS nkey: %w", err))
		}
		opts = append(opts, o)
		from = append(from, "nkey "+nkey)
	}
	if len(from) == 0 {
		return nil, "", nil
	}
	return opts, strings.Join(from, ", "), nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// natsConn is a connection to NATS. refused receives the server's
// refusal of a publish, which NATS reports apart from the publish itself.
type natsConn struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	refused chan error
}

// Close closes the connection.
func (c *natsConn) Close() { c.nc.Close() }

// jetStream connects to NATS. The caller closes the connection.
func (f *connFlags) jetStream() (*natsConn, error) {
	auth, from, err := f.natsAuth()
	if err != nil {
		return nil, err
	}
	refused := make(chan error, 1)
	opts := append([]nats.Option{nats.Name("takedownctl"), nats.Timeout(f.timeout), nats.MaxReconnects(2),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				select {
				case refused <- err:
				default:
				}
			}
		})}, auth...)
	if f.natsCA != "" {
		opts = append(opts, nats.RootCAs(f.natsCA))
	}
	nc, err := nats.Connect(f.nats, opts...)
	if err != nil {
		if !errors.Is(err, nats.ErrAuthorization) {
			return nil, withCode(ExitError, fmt.Errorf("connect to NATS at %s (-nats, %s): %w", f.nats, EnvNATS, err))
		}
		if from == "" {
			return nil, withCode(ExitUnauthorized, fmt.Errorf(
				"NATS at %s wants credentials: pass -nats-nkey FILE or set %s (the daemon writes %s to its data dir), or point -data (%s) at the daemon's data dir: %w",
				f.nats, EnvNATSNKey, NATSKeyFileName, f.data, err))
		}
		return nil, withCode(ExitUnauthorized, fmt.Errorf("NATS at %s refused the credentials (%s): %w", f.nats, from, err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	return &natsConn{nc: nc, js: js, refused: refused}, nil
}

// publishReport publishes one validated report and waits for the stream's
// acknowledgement. The msg id lets JetStream drop a second copy; "" sends
// none. A publish the server refuses (the subject is not one our
// credentials may publish to) fails at once rather than at the timeout.
func (f *connFlags) publishReport(ctx context.Context, c *natsConn, subject string, data []byte, msgID string) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ctx, refuse := context.WithCancelCause(ctx)
	defer refuse(nil)
	go func() {
		select {
		case err := <-c.refused:
			refuse(err)
		case <-ctx.Done():
		}
	}()
	msg := nats.NewMsg(subject)
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	ack, err := c.js.PublishMsg(ctx, msg)
	if cause := context.Cause(ctx); errors.Is(cause, nats.ErrPermissionViolation) {
		return nil, withCode(ExitUnauthorized, fmt.Errorf("publish to %s: refused for these credentials (is %s the daemon's intake.subject?): %w", subject, subject, cause))
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("publish to %s: no stream takes this subject (is takedownd running with intake.subject %q?): %w", subject, subject, err)
	}
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", subject, err)
	}
	return ack, nil
}
