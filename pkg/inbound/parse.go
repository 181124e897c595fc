package inbound

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/takedownd/takedownd/pkg/inbound/dsn"
)

// Bounds on what is read of one message: a reply's own words come first,
// and nothing past these limits changes how it is matched or recorded.
const (
	maxHeaderBytes = 256 << 10
	maxTextBytes   = 256 << 10
	maxParts       = 64
	maxDepth       = 5
)

// parsed is what ingestion needs of a message.
type parsed struct {
	MessageID  string
	From       string // the sender's address
	ReturnPath string // "" for the null sender of a bounce
	Subject    string
	InReplyTo  []string
	References []string
	// Recipients are the delivery addresses (Delivered-To, X-Original-To)
	// before the header's To and Cc.
	Recipients []string
	XRef       string
	Auto       bool
	Text       string // the first plain-text part (or de-tagged HTML)
	// Bounce is what a report returned to our envelope sender says: a
	// failed or delayed delivery, or a report of none (a positive DSN,
	// ARF feedback); nil for other mail. Text then holds the whole
	// readable message, for the references a returned original carries.
	Bounce *dsn.Report
	// Suspicious is set by Ingest when the message looks forged.
	Suspicious string
}

// parse reads raw as an Internet message. It fails only for input that
// has no readable header at all.
func parse(raw []byte) (parsed, error) {
	raw = dsn.TrimMbox(raw)
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if err != nil && !tolerable(err) {
		return parsed{}, fmt.Errorf("read message header: %w", err)
	}
	if e.Header.Len() == 0 {
		return parsed{}, errors.New("read message header: no header fields")
	}
	h := gomail.Header{Header: e.Header}
	var p parsed
	p.MessageID = msgID(h.Get("Message-Id"))
	p.From = firstAddress(h.Get("From"))
	if p.From == "" {
		p.From = firstAddress(h.Get("Sender"))
	}
	if h.Has("Return-Path") {
		p.ReturnPath = strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>")
	}
	if p.From == "" {
		p.From = p.ReturnPath
	}
	p.Subject = dsn.HeaderText(e.Header, "Subject")
	p.InReplyTo = msgIDs(h.Get("In-Reply-To"))
	p.References = msgIDs(h.Get("References"))
	for _, k := range []string{"Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"} {
		for _, v := range e.Header.Values(k) {
			p.Recipients = append(p.Recipients, addresses(v)...)
		}
	}
	p.XRef = strings.TrimSpace(h.Get("X-Takedown-Ref"))
	rep, err := dsn.Parse(raw)
	if err != nil {
		return parsed{}, fmt.Errorf("read message: %w", err)
	}
	switch rep.Kind {
	case dsn.KindBounce, dsn.KindDelay, dsn.KindReport:
		p.Bounce = &rep
		p.Text = readableText(raw)
		return p, nil
	}
	p.Auto = rep.Kind == dsn.KindAutoReply
	p.Text = firstText(e, 0)
	return p, nil
}

// firstText returns the first inline text/plain part, else the first
// text/html part with its tags removed.
func firstText(e *message.Entity, depth int) string {
	var html string
	var found string
	var walk func(e *message.Entity, depth int) bool
	parts := 0
	walk = func(e *message.Entity, depth int) bool {
		parts++
		if parts > maxParts || depth > maxDepth {
			return true
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err != nil && !tolerable(err) {
					return false
				}
				if walk(p, depth+1) {
					return true
				}
			}
		}
		t, params, _ := e.Header.ContentType()
		if disp, _, _ := e.Header.ContentDisposition(); disp == "attachment" {
			return false
		}
		switch t {
		case "text/plain", "":
			found = decodeText(e.Body, params["charset"])
			return true
		case "text/html":
			if html == "" {
				html = stripTags(decodeText(e.Body, params["charset"]))
			}
		}
		return false
	}
	walk(e, depth)
	if found != "" {
		return found
	}
	return html
}

// decodeText reads a part's text as UTF-8. go-message decodes UTF-8 and
// ASCII; Latin-1 and Windows-1252, still common from mail clients, are
// mapped byte by byte (the difference lies in punctuation only).
func decodeText(r io.Reader, charset string) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxTextBytes))
	if utf8.Valid(b) {
		return string(b)
	}
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso-8859-15", "latin1", "windows-1252", "cp1252":
		rs := make([]rune, len(b))
		for i, c := range b {
			rs[i] = rune(c)
		}
		return string(rs)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

var tagRE = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<br\s*/?>|</p>|<[^>]*>`)

func stripTags(s string) string {
	s = tagRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "<br") || m == "</p>" {
			return "\n"
		}
		return ""
	})
	r := strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'")
	return r.Replace(s)
}

// readableText is a bounded, valid UTF-8 copy of the raw message, for
// bounces whose only structure is text.
func readableText(raw []byte) string {
	if len(raw) > maxTextBytes {
		raw = raw[:maxTextBytes]
	}
	return strings.ToValidUTF8(string(raw), "?")
}

// msgID returns one message id without brackets.
func msgID(v string) string {
	ids := msgIDs(v)
	if len(ids) == 0 {
		return strings.Trim(strings.TrimSpace(v), "<>")
	}
	return ids[0]
}

// msgIDs extracts <id> tokens; mail clients fold and comment these lists
// in every way, so the brackets are all that is relied on.
func msgIDs(v string) []string {
	var out []string
	for len(out) < 100 {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	return out
}

var wordDecoder = &mime.WordDecoder{}

// addresses parses an address list, falling back to bare addresses for
// headers that do not parse (Delivered-To holds one bare address).
func addresses(v string) []string {
	if dec, err := wordDecoder.DecodeHeader(v); err == nil {
		v = dec
	}
	list, err := mail.ParseAddressList(v)
	if err == nil {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = strings.ToLower(a.Address)
		}
		return out
	}
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if a := strings.ToLower(strings.Trim(f, "<>;")); strings.Contains(a, "@") {
			out = append(out, a)
		}
	}
	return out
}

func firstAddress(v string) string {
	if a := addresses(v); len(a) > 0 {
		return a[0]
	}
	return ""
}

func tolerable(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}

// originalHeader is the returned original's header of a bounce, if any.
func (p parsed) originalHeader() *textproto.Header {
	if p.Bounce == nil {
		return nil
	}
	return p.Bounce.Original
}
