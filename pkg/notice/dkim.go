package notice

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIM configures signing of outgoing notices.
type DKIM struct {
	Domain   string
	Selector string
	Signer   crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// dkimHeaders are the fields signed, per RFC 6376 section 5.4.1.
var dkimHeaders = []string{"From", "To", "Reply-To", "Subject", "Date", "Message-Id", "References", "Auto-Submitted", "X-Takedown-Ref", "Mime-Version", "Content-Type"}

func sign(raw []byte, d *DKIM) ([]byte, error) {
	var out bytes.Buffer
	opts := &dkim.SignOptions{
		Domain:                 d.Domain,
		Selector:               d.Selector,
		Signer:                 d.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	}
	if err := dkim.Sign(&out, bytes.NewReader(raw), opts); err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	return out.Bytes(), nil
}

// LoadDKIMKey reads a PEM private key (PKCS #8, or PKCS #1 RSA) for DKIM signing.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dkim key: %w", err)
	}
	return ParseDKIMKey(b)
}

// ParseDKIMKey parses a PEM private key (PKCS #8, or PKCS #1 RSA).
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("parse dkim key: no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse dkim key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse dkim key: %T cannot sign", k)
	}
	return s, nil
}
