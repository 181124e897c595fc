// Package xarfdesk is a hoster's automated abuse intake as the X-ARF e-mail
// transport describes it (xarf.org, "Email Transport (SMTP)"): it reads a
// mail the way the description's reference parser does and validates the
// report against the X-ARF v4 schemas from the shared fixtures. Tests use
// it to read our notices as such a desk would. Nothing in production
// imports it.
package xarfdesk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// Report is what the intake took from one mail.
type Report struct {
	// FeedbackType, UserAgent and Version are the fields of the
	// message/feedback-report part.
	FeedbackType string
	UserAgent    string
	Version      string
	// JSON is the X-ARF report: the last application/json part, as the
	// reference parser keeps it.
	JSON []byte
	// JSONParts counts the application/json parts; every one but the
	// last is lost to such an intake.
	JSONParts int
	// Text is the first text/plain part, what a person reading the ticket sees.
	Text string
	// Header is the mail's header, for matching a reply to the report.
	Header message.Header
}

// Errors of Parse; the reference parser raises the same three.
var (
	ErrNotReport   = errors.New("not a valid XARF email: not multipart/report; report-type=feedback-report")
	ErrNotXARF     = errors.New("not a XARF report: no message/feedback-report part with Feedback-Type: xarf")
	ErrNoJSON      = errors.New("no XARF JSON payload found")
	errPartTooDeep = errors.New("parts nested too deep")
)

// maxDepth bounds nesting; the transport has one level.
const maxDepth = 8

// Parse reads raw as the reference parser does: the mail must be a
// multipart/report of report-type feedback-report; every part is walked;
// a message/feedback-report part gives the Feedback-Type, an
// application/json part (base64, as the transport requires) the report;
// anything else is skipped. It fails unless the Feedback-Type is "xarf"
// and a report was found whose JSON parses.
func Parse(raw []byte) (Report, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return Report{}, fmt.Errorf("read mail: %w", err)
	}
	t, params, err := e.Header.ContentType()
	if err != nil || t != "multipart/report" || !strings.EqualFold(params["report-type"], "feedback-report") {
		return Report{}, ErrNotReport
	}
	r := Report{Header: e.Header}
	if err := r.walk(e, 0); err != nil {
		return Report{}, err
	}
	if !strings.EqualFold(r.FeedbackType, "xarf") {
		return Report{}, fmt.Errorf("%w (Feedback-Type %q)", ErrNotXARF, r.FeedbackType)
	}
	if r.JSON == nil {
		return Report{}, ErrNoJSON
	}
	if !json.Valid(r.JSON) {
		return Report{}, errors.New("decode xarf json: not valid JSON")
	}
	return r, nil
}

func (r *Report) walk(e *message.Entity, depth int) error {
	if depth > maxDepth {
		return errPartTooDeep
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return fmt.Errorf("read part: %w", err)
			}
			if err := r.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	switch t {
	case "message/feedback-report":
		return r.feedback(e.Body)
	case "application/json":
		if cte := strings.ToLower(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding"))); cte != "base64" {
			return fmt.Errorf("read xarf json: transfer encoding %q, the transport requires base64", cte)
		}
		b, err := io.ReadAll(e.Body) // go-message has undone the base64
		if err != nil {
			return fmt.Errorf("read xarf json: %w", err)
		}
		r.JSON = b
		r.JSONParts++
	case "text/plain":
		if r.Text == "" {
			b, err := io.ReadAll(e.Body)
			if err != nil {
				return fmt.Errorf("read text: %w", err)
			}
			r.Text = string(b)
		}
	}
	return nil
}

// feedback reads the fields of a message/feedback-report part; the
// reference parser looks at lines starting "Feedback-Type:".
func (r *Report) feedback(body io.Reader) error {
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "feedback-type":
			r.FeedbackType = value
		case "user-agent":
			r.UserAgent = value
		case "version":
			r.Version = value
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read feedback report: %w", err)
	}
	return nil
}
