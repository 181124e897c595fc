package dsn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
)

// Limits that keep a hostile message from costing much: a real bounce
// names a handful of recipients, explains itself in a few kilobytes and
// returns one header.
const (
	maxHeaderBytes = 256 << 10
	maxPartBytes   = 128 << 10
	maxTextBytes   = 256 << 10
	maxParts       = 32
	maxDepth       = 5
)

// TrimMbox removes what an mbox file puts before the message: blank lines
// and the "From sender date" separator line. An MTA delivering over SMTP
// or into a maildir sends neither, but bounces saved from a mailbox (and
// sisimai's corpus) start with it, and it is no header field.
func TrimMbox(raw []byte) []byte {
	raw = bytes.TrimLeft(raw, "\r\n")
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
		return nil
	}
	return raw
}

// mailParts is a message read for bounce decoding: its header decoded and its
// body flattened into the parts a bounce is made of.
type mailParts struct {
	Header  message.Header
	Subject string
	From    string // the sender's address, lower case
	// Texts are the readable parts in order, decoded to UTF-8 (HTML with
	// its tags removed); a text bounce carries everything here, the
	// returned original included.
	Texts []string
	// Status holds the machine-readable delivery-status parts.
	Status []string
	// Feedback marks an ARF feedback report (RFC 5965).
	Feedback bool
	// Original is the header of a returned message/rfc822 or
	// text/rfc822-headers part.
	Original *textproto.Header
	// ReportType is the report-type of a multipart/report ("" if none).
	ReportType string
	Multipart  bool
}

// errNoHeader is returned for input with no header field at all.
var errNoHeader = errors.New("read message: no header fields")

// readMail reads raw (an mbox line already removed) into a mailParts. Unknown
// charsets and transfer encodings leave a part readable as raw bytes;
// only input without any header field fails.
func readMail(raw []byte) (*mailParts, error) {
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: maxHeaderBytes})
	if e == nil || e.Header.Len() == 0 {
		if err == nil {
			err = errNoHeader
		}
		return nil, err
	}
	m := &mailParts{Header: e.Header}
	m.Subject = HeaderText(e.Header, "Subject")
	m.From = firstAddr(HeaderText(e.Header, "From"))
	t, params, _ := e.Header.ContentType()
	if t == "multipart/report" {
		m.ReportType = strings.ToLower(params["report-type"])
	}
	m.Multipart = strings.HasPrefix(t, "multipart/")
	w := walker{m: m}
	w.walk(e, 0)
	if w.broken && len(m.Status) == 0 || len(m.Texts) == 0 && len(m.Status) == 0 {
		// A part header that go-message refuses (a boundary parameter
		// folded without indentation, say) ends the walk; the rest is
		// still readable as text, DSN fields and all.
		m.Texts = append(m.Texts, rawBody(raw))
	}
	return m, nil
}

type walker struct {
	m      *mailParts
	broken bool
	parts  int
	text   int // bytes of text kept
}

func (w *walker) walk(e *message.Entity, depth int) {
	w.parts++
	if w.parts > maxParts || depth > maxDepth {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		alt := isType(e.Header, "multipart/alternative")
		before := len(w.m.Texts)
		for {
			p, err := mr.NextPart()
			if err != nil && !tolerable(err) {
				if !errors.Is(err, io.EOF) {
					w.broken = true
				}
				return
			}
			if alt && len(w.m.Texts) > before {
				// One rendering of an alternative is enough.
				continue
			}
			w.walk(p, depth+1)
		}
	}
	t, params, err := e.Header.ContentType()
	if err != nil {
		t = ""
	}
	switch {
	case t == "message/delivery-status" || t == "message/global-delivery-status":
		w.m.Status = append(w.m.Status, readPart(e.Body, maxPartBytes))
	case t == "message/feedback-report":
		w.m.Feedback = true
	case t == "message/rfc822" || t == "message/global" || t == "text/rfc822-headers" ||
		t == "message/global-headers" || t == "message/partial" || t == "message/rfc822-headers":
		if w.m.Original != nil {
			return
		}
		if h, err := readHeader(e.Body); err == nil {
			w.m.Original = &h
		}
	case t == "text/plain" || t == "" || t == "text/html" || t == "text/enriched":
		s := readPart(e.Body, maxPartBytes)
		if !utf8.ValidString(s) {
			s = decodeBytes([]byte(s), params["charset"])
		}
		if t == "text/html" {
			s = StripTags(s)
		}
		if w.text+len(s) > maxTextBytes {
			s = s[:max(0, maxTextBytes-w.text)]
		}
		w.text += len(s)
		w.m.Texts = append(w.m.Texts, strings.ToValidUTF8(s, "\uFFFD"))
	}
}

func isType(h message.Header, want string) bool {
	t, _, err := h.ContentType()
	return err == nil && t == want
}

// rawBody is the body of raw as text, bounded, with quoted-printable
// soft line breaks and escapes undone where the body uses them.
func rawBody(raw []byte) string {
	i := bytes.Index(raw, []byte("\n\n"))
	if j := bytes.Index(raw, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	body := raw[i:]
	if len(body) > maxTextBytes {
		body = body[:maxTextBytes]
	}
	if bytes.Contains(body, []byte("=\n")) || bytes.Contains(body, []byte("=\r\n")) || bytes.Contains(body, []byte("=3D")) {
		if b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); len(b) > 0 {
			_ = err // a stray "=" ends decoding early; what came before stands
			body = b
		}
	}
	s := string(body)
	if !utf8.ValidString(s) {
		s = decodeBytes(body, "")
	}
	return s
}

// readPart reads a part's decoded body, bounded.
func readPart(r io.Reader, limit int64) string {
	b, _ := io.ReadAll(io.LimitReader(r, limit))
	return string(b)
}

// decodeBytes turns text in a charset go-message could not decode (the
// header named none, or a wrong one) into UTF-8: as the charset says if it
// is known, else as Latin-1, which maps every byte.
func decodeBytes(b []byte, cs string) string {
	if cs != "" {
		if r, err := charset.Reader(cs, bytes.NewReader(b)); err == nil {
			if out, err := io.ReadAll(r); err == nil && utf8.Valid(out) {
				return string(out)
			}
		}
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// wordDecoder decodes RFC 2047 encoded words in every charset the
// charset package knows (ISO-2022-JP, ISO-8859-15, Shift_JIS, KOI8-R…).
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// HeaderText returns a header field's value with encoded words decoded,
// folding undone and invalid UTF-8 replaced. Raw 8-bit values (a header
// nobody encoded) are read as UTF-8 if valid, else as Latin-1.
func HeaderText(h message.Header, k string) string {
	v := h.Get(k)
	if dec, err := wordDecoder.DecodeHeader(v); err == nil {
		v = dec
	}
	if !utf8.ValidString(v) {
		v = decodeBytes([]byte(v), "")
	}
	return strings.Join(strings.Fields(v), " ")
}

var tagRE = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>|<br\s*/?>|</?(p|div|tr|li|h[1-6])\b[^>]*>|<[^>]*>`)

// StripTags reduces HTML to its text, keeping line breaks where blocks
// end.
func StripTags(s string) string {
	s = tagRE.ReplaceAllStringFunc(s, func(m string) string {
		l := strings.ToLower(m)
		for _, p := range []string{"<br", "<p", "</p", "<div", "</div", "<tr", "</tr", "<li", "</li", "<h", "</h"} {
			if strings.HasPrefix(l, p) {
				return "\n"
			}
		}
		return ""
	})
	r := strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&#34;", `"`)
	return r.Replace(s)
}

// readHeader reads a returned header; a header cut short (headers-only
// parts often end without the blank line) still counts.
func readHeader(body io.Reader) (textproto.Header, error) {
	br := bufio.NewReader(io.LimitReader(body, maxHeaderBytes))
	skipBlankLines(br)
	h, err := textproto.ReadHeader(br)
	if h.Len() > 0 {
		return h, nil
	}
	if err == nil {
		err = errNoHeader
	}
	return h, err
}

// headerOfText reads the header block that starts text, as a text bounce
// quotes the original below its boundary line.
func headerOfText(text string) *textproto.Header {
	text = strings.TrimLeft(text, " \t\r\n")
	h, err := readHeader(strings.NewReader(text))
	if err != nil || h.Len() == 0 {
		return nil
	}
	return &h
}

func skipBlankLines(br *bufio.Reader) {
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != '\r' && b[0] != '\n') {
			return
		}
		_, _ = br.ReadByte()
	}
}

// tolerable errors leave a part readable as raw bytes.
func tolerable(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}
