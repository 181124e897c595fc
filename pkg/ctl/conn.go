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
// token to the file TokenFileName in that dir (see pkg/app).
const (
	DefaultAPI     = "http://127.0.0.1:8080"
	DefaultNATS    = "nats://127.0.0.1:4222"
	DefaultData    = "data"
	DefaultSubject = "takedown.reports"
	DefaultTimeout = 10 * time.Second
	TokenFileName  = "api-token"
)

// The environment variables takedownctl reads; a flag beats its variable.
const (
	EnvAPI       = "TAKEDOWN_API"
	EnvNATS      = "TAKEDOWN_NATS"
	EnvNATSCreds = "TAKEDOWN_NATS_CREDS"
	EnvNATSCA    = "TAKEDOWN_NATS_CA"
	EnvSubject   = "TAKEDOWN_SUBJECT"
	EnvToken     = "TAKEDOWN_TOKEN"
	EnvTokenFile = "TAKEDOWN_TOKEN_FILE"
	EnvData      = "TAKEDOWN_DATA"
)

// connFlags say where the daemon is and how to prove who we are.
type connFlags struct {
	api, nats, natsCreds, natsCA string
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
	f.natsCA = env.getenv(EnvNATSCA)
	f.subject = orDefault(env.getenv(EnvSubject), DefaultSubject)
	f.data = orDefault(env.getenv(EnvData), DefaultData)
	f.timeout = DefaultTimeout
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.api, "api", f.api, "status API base URL (env "+EnvAPI+")")
	fs.StringVar(&f.nats, "nats", f.nats, "NATS server URL(s), comma-separated (env "+EnvNATS+")")
	fs.StringVar(&f.natsCreds, "nats-creds", f.natsCreds, "NATS credentials file (env "+EnvNATSCreds+")")
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

// jetStream connects to NATS. The caller closes the connection.
func (f *connFlags) jetStream() (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name("takedownctl"), nats.Timeout(f.timeout), nats.MaxReconnects(2)}
	if f.natsCreds != "" {
		opts = append(opts, nats.UserCredentials(f.natsCreds))
	}
	if f.natsCA != "" {
		opts = append(opts, nats.RootCAs(f.natsCA))
	}
	nc, err := nats.Connect(f.nats, opts...)
	if err != nil {
		code := ExitError
		if errors.Is(err, nats.ErrAuthorization) {
			code = ExitUnauthorized
		}
		return nil, nil, withCode(code, fmt.Errorf("connect to NATS at %s (-nats, %s): %w", f.nats, EnvNATS, err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream: %w", err)
	}
	return nc, js, nil
}

// publishReport publishes one validated report and waits for the stream's
// acknowledgement. The msg id lets JetStream drop a second copy; "" sends
// none.
func (f *connFlags) publishReport(ctx context.Context, js jetstream.JetStream, subject string, data []byte, msgID string) (*jetstream.PubAck, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	ack, err := js.PublishMsg(ctx, msg)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("publish to %s: no stream takes this subject (is takedownd running with intake.subject %q?): %w", subject, subject, err)
	}
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", subject, err)
	}
	return ack, nil
}
