package notice

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
)

// DKIM configures signing of outgoing notices.
type DKIM struct {
	Domain   string
	Selector string
	Signer   crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// Config configures a Renderer.
type Config struct {
	// TemplateDir overrides embedded templates file by file; empty uses the embedded ones.
	TemplateDir string
	// PlainReplyTo turns off plus addressing: Reply-To is then From itself
	// rather than local+REF@domain.
	PlainReplyTo bool
	// MessageIDDomain is the right-hand side of Message-IDs; empty uses From's domain.
	MessageIDDomain string
	// DKIM signs every message when set.
	DKIM *DKIM
}

// Renderer turns notices into ready-to-send messages.
type Renderer struct {
	cfg       Config
	templates *Templates
}

// NewRenderer loads the templates and returns a Renderer.
func NewRenderer(cfg Config) (*Renderer, error) {
	t, err := LoadTemplates(cfg.TemplateDir)
	if err != nil {
		return nil, err
	}
	if cfg.DKIM != nil && (cfg.DKIM.Domain == "" || cfg.DKIM.Selector == "" || cfg.DKIM.Signer == nil) {
		return nil, errors.New("new renderer: dkim needs domain, selector and key")
	}
	return &Renderer{cfg: cfg, templates: t}, nil
}

// Message is a rendered notice.
type Message struct {
	Ref       string
	MessageID string // without angle brackets
	From      string // envelope sender
	To        []string
	Subject   string
	Body      string   // the plain text, for records and previews
	XARF      [][]byte // one JSON report per item, as attached
	Raw       []byte   // the complete RFC 5322 message with CRLF line ends
}

// MessageID returns the Message-ID of the notice with reference ref. It
// depends on nothing but the reference, so every resend is the same message
// to the recipient's deduplication.
func MessageID(ref, domain string) string {
	return ref + "@" + domain
}

// Render validates n and renders it.
func (r *Renderer) Render(n Notice) (Message, error) {
	if err := n.Validate(); err != nil {
		return Message{}, fmt.Errorf("render notice %s: %w", n.Ref, err)
	}
	subject, body, err := r.templates.Text(n, !r.cfg.PlainReplyTo)
	if err != nil {
		return Message{}, fmt.Errorf("render notice %s: %w", n.Ref, err)
	}
	reports, err := MarshalXARF(n)
	if err != nil {
		return Message{}, fmt.Errorf("render notice %s: %w", n.Ref, err)
	}
	domain := r.cfg.MessageIDDomain
	if domain == "" {
		domain = addressDomain(n.From)
	}
	m := Message{
		Ref:       n.Ref,
		MessageID: MessageID(n.Ref, domain),
		From:      n.From,
		To:        append([]string(nil), n.To...),
		Subject:   subject,
		Body:      body,
		XARF:      reports,
	}
	raw, err := assemble(n, m, n.ReplyAddress(!r.cfg.PlainReplyTo))
	if err != nil {
		return Message{}, fmt.Errorf("render notice %s: %w", n.Ref, err)
	}
	if r.cfg.DKIM != nil {
		if raw, err = sign(raw, r.cfg.DKIM); err != nil {
			return Message{}, fmt.Errorf("render notice %s: %w", n.Ref, err)
		}
	}
	m.Raw = raw
	return m, nil
}

// boundary is derived from the reference so the same notice renders to the
// same bytes. "=_" never occurs in quoted-printable or base64 output, so the
// parts cannot contain it.
func boundary(ref string) string {
	h := sha256.Sum256([]byte("takedownd/boundary/" + ref))
	return "=_td_" + hex.EncodeToString(h[:12])
}

func assemble(n Notice, m Message, replyTo string) ([]byte, error) {
	var h mail.Header
	h.SetAddressList("From", []*mail.Address{{Name: n.Hotline.Name, Address: n.From}})
	to := make([]*mail.Address, 0, len(n.To))
	for _, a := range n.To {
		to = append(to, &mail.Address{Address: a})
	}
	h.SetAddressList("To", to)
	h.SetAddressList("Reply-To", []*mail.Address{{Name: n.Hotline.Name, Address: replyTo}})
	h.SetSubject(m.Subject)
	h.SetDate(n.SentAt)
	h.SetMessageID(m.MessageID)
	if n.PrevRef != "" && n.PrevRef != n.Ref {
		h.SetMsgIDList("References", []string{MessageID(n.PrevRef, addressDomain(m.MessageID))})
	}
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("X-Takedown-Ref", n.Ref)
	h.Set("X-Takedown-Kind", string(n.Kind))
	lang := "en"
	if n.Lang == "nl" {
		lang = "nl, en"
	}
	h.Set("Content-Language", lang)
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary(n.Ref)})

	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	var th message.Header
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	th.Set("Content-Disposition", "inline")
	if err := writePart(w, th, []byte(m.Body)); err != nil {
		return nil, fmt.Errorf("write body: %w", err)
	}
	for i, x := range m.XARF {
		var ah message.Header
		ah.SetContentType("application/json", map[string]string{"charset": "utf-8"})
		ah.SetContentDisposition("attachment", map[string]string{"filename": fmt.Sprintf("xarf-%d.json", i+1)})
		ah.Set("Content-Transfer-Encoding", "base64")
		if err := writePart(w, ah, x); err != nil {
			return nil, fmt.Errorf("write xarf %d: %w", i+1, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close message: %w", err)
	}
	return buf.Bytes(), nil
}

func writePart(w *message.Writer, h message.Header, body []byte) error {
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := pw.Write(body); err != nil {
		return err
	}
	return pw.Close()
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
