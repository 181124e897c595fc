package world

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"time"
)

// Notice is one notice, reminder, escalation or forward as it reached the
// world: by mail through the relay, or as a partner webhook call.
type Notice struct {
	// Ref is the notice reference (TD-…), Kind its X-Takedown-Kind
	// (first, reminder, escalation, reappeared, forward).
	Ref, Kind string
	// Channel is "smtp" or "webhook".
	Channel string
	// To are the recipients (for a webhook, the partner's country).
	To []string
	// MessageID is the mail's Message-Id (empty for a webhook), so a
	// resend of the same notice can be told from a second notice.
	MessageID string
	// At is when the world accepted it.
	At    time.Time
	Items []Item
}

// Item is one URL a notice names, with the case and reports behind it.
type Item struct {
	URL       string   `json:"url"`
	CaseID    string   `json:"case_id"`
	ReportIDs []string `json:"report_ids"`
}

// maxNoticeParts bounds the parts read from one mail; takedownd puts at
// most notify.max_urls_per_notice (default 100) X-ARF parts in one.
const maxNoticeParts = 10_000

// ParseMail reads a notice from the raw message the relay accepted: the
// headers takedownd sets and one X-ARF JSON part per URL.
func ParseMail(data []byte, to []string, at time.Time) (Notice, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Notice{}, fmt.Errorf("read notice: %w", err)
	}
	n := Notice{
		Ref: msg.Header.Get("X-Takedown-Ref"), Kind: msg.Header.Get("X-Takedown-Kind"),
		Channel: "smtp", To: to, MessageID: msg.Header.Get("Message-Id"), At: at,
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return n, nil // a reply or other mail without X-ARF parts
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for range maxNoticeParts {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read notice %s part: %w", n.Ref, err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct != "application/json" {
			continue
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		var it Item
		if err := json.NewDecoder(body).Decode(&it); err != nil {
			return n, fmt.Errorf("decode x-arf part of %s: %w", n.Ref, err)
		}
		if it.URL != "" {
			n.Items = append(n.Items, it)
		}
	}
	return n, nil
}

// ParseForward reads a partner webhook call (notice.ForwardPayload).
func ParseForward(body []byte, partner string, at time.Time) (Notice, error) {
	var p struct {
		Reference string `json:"reference"`
		Kind      string `json:"kind"`
		Items     []Item `json:"items"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Notice{}, fmt.Errorf("decode forward: %w", err)
	}
	return Notice{Ref: p.Reference, Kind: p.Kind, Channel: "webhook", To: []string{partner}, At: at, Items: p.Items}, nil
}
