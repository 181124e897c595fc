package notice

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// Config configures a Renderer.
type Config struct {
	// TemplateDir overrides embedded templates file by file; empty uses the embedded ones.
	TemplateDir string
	// PlainReplyTo turns off plus addressing: Reply-To is then From itself
	// rather than local+REF@domain.
	PlainReplyTo bool
	// MessageIDDomain is the right-hand side of Message-IDs; empty uses From's domain.
	MessageIDDomain string
	// UserAgent names the sending software in the feedback report of an
	// X-ARF mail; empty is DefaultUserAgent.
	UserAgent string
	// DKIM signs every message when set.
	DKIM *DKIM
}

// DefaultUserAgent is the User-Agent of X-ARF feedback reports when the
// configuration names none. It carries no version, so an upgrade between
// a send and its resend after a crash does not change the message.
const DefaultUserAgent = "takedownd"

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
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if !printableASCII(cfg.UserAgent) {
		return nil, fmt.Errorf("new renderer: user agent %q: want printable ASCII on one line", cfg.UserAgent)
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

// Render validates n and renders it in its Format.
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
	h := header(n, m, n.ReplyAddress(!r.cfg.PlainReplyTo))
	var raw []byte
	if n.Format == FormatXARF {
		raw, err = assembleXARF(&h, n, m, r.cfg.UserAgent)
	} else {
		raw, err = assembleBatched(&h, n, m)
	}
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

// header is the message header every format shares: who, what, the fixed
// Message-ID and the reference in the places inbound matches replies on.
// The format adds its Content-Type.
func header(n Notice, m Message, replyTo string) mail.Header {
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
	return h
}

// textHeader is the header of the plain-text part, the same in every format.
func textHeader() message.Header {
	var th message.Header
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	th.Set("Content-Disposition", "inline")
	return th
}

// jsonHeader is the header of an X-ARF report part: base64, as the
// transport description asks and its reference parser expects.
func jsonHeader(filename string) message.Header {
	var ah message.Header
	ah.SetContentType("application/json", map[string]string{"charset": "utf-8", "name": filename})
	ah.SetContentDisposition("attachment", map[string]string{"filename": filename})
	ah.Set("Content-Transfer-Encoding", "base64")
	return ah
}

// writeMultipart writes h and then each part in order.
func writeMultipart(h *mail.Header, parts []part) ([]byte, error) {
	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, fmt.Errorf("write header: %w", err)
	}
	for _, p := range parts {
		if err := writePart(w, p.header, p.body); err != nil {
			return nil, fmt.Errorf("write %s: %w", p.name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("close message: %w", err)
	}
	return buf.Bytes(), nil
}

// part is one body part of a message, named for errors.
type part struct {
	name   string
	header message.Header
	body   []byte
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
