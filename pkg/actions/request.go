package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// Request is an action on a case, the body of POST /v1/cases/{id}/actions.
// Which fields an action takes is in fieldsOf; any other field given is
// refused, so a mistyped request fails instead of doing less than meant.
type Request struct {
	Action string `json:"action"`
	// Reason says why (route, pause, resume, close); required to pause
	// and to close.
	Reason string `json:"reason,omitempty"`
	// Note is free text on a claim or report (check, retry_enrichment,
	// add_contact, mark_removed, partner_status).
	Note string `json:"note,omitempty"`
	// Contact is whom to route to, or the contact to add.
	Contact *Contact `json:"contact,omitempty"`
	// Partner is the country code of the partner hotline to route to.
	Partner string `json:"partner,omitempty"`
	// Remember keeps an added contact for the case's hoster, by its
	// "domain", "network" or "asn"; empty adds it to this case only.
	Remember string `json:"remember,omitempty"`
	// Until ends a pause: an RFC 3339 time, or a duration from now ("48h").
	Until string `json:"until,omitempty"`
	// As is how a case is closed: "not_actionable" or "duplicate" (of
	// DuplicateOf, another case's id).
	As          string `json:"as,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Status is what a partner hotline reports: "removed", "in_progress"
	// or "not_illegal" (not illegal in its country).
	Status string `json:"status,omitempty"`
}

// Contact is an abuse address a person gives.
type Contact struct {
	Email    string `json:"email"`
	Name     string `json:"name,omitempty"`
	Language string `json:"language,omitempty"`
}

// Ways to close and partner statuses.
const (
	CloseNotActionable = "not_actionable"
	CloseDuplicate     = "duplicate"

	StatusRemoved    = "removed"
	StatusInProgress = "in_progress"
	StatusNotIllegal = "not_illegal"
)

// Remember kinds.
const (
	RememberDomain  = "domain"
	RememberNetwork = "network"
	RememberASN     = "asn"
)

// maxText bounds a reason or note: they go into events and case records.
const maxText = 2000

// MaxBody bounds a request body.
const MaxBody = 64 << 10

// fieldsOf lists the fields each action takes (besides action).
var fieldsOf = map[string][]string{
	takedown.ActionCheck:         {"note"},
	takedown.ActionRetryEnrich:   {"note"},
	takedown.ActionRoute:         {"contact", "partner", "reason"},
	takedown.ActionAddContact:    {"contact", "remember", "note"},
	takedown.ActionMarkRemoved:   {"note"},
	takedown.ActionPause:         {"until", "reason"},
	takedown.ActionResume:        {"reason"},
	takedown.ActionClose:         {"as", "duplicate_of", "reason"},
	takedown.ActionPartnerStatus: {"status", "note"},
}

// FieldError is a request that is not understood or lacks what its action
// needs; Field names the field ("" for the body as a whole).
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Decode reads a request body: one JSON object with known fields only,
// no field twice, and the fields its action takes. It checks the fields'
// form; whether the action fits the case is Do's to say.
func Decode(body io.Reader) (Request, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	if err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	if len(data) > MaxBody {
		return Request{}, fieldErr("", "the body is over %d bytes", MaxBody)
	}
	var raw map[string]json.RawMessage
	top := json.NewDecoder(bytes.NewReader(data))
	if err := top.Decode(&raw); err != nil {
		return Request{}, fieldErr("", "not a JSON object: %v", err)
	}
	if raw == nil {
		return Request{}, fieldErr("", "not a JSON object")
	}
	if _, err := top.Token(); !errors.Is(err, io.EOF) {
		return Request{}, fieldErr("", "trailing data after the JSON object")
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Request{}, fieldErr(te.Field, "want a %s", te.Type)
		}
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Request{}, fieldErr(strings.Trim(field, `"`), "unknown field")
		}
		return Request{}, fieldErr("", "not understood: %v", err)
	}
	if err := checkNoDuplicates(data); err != nil {
		return Request{}, err
	}
	if req.Action == "" {
		return Request{}, fieldErr("action", "missing: want one of %s", strings.Join(takedown.Actions, ", "))
	}
	allowed, ok := fieldsOf[req.Action]
	if !ok {
		return Request{}, fieldErr("action", "unknown action %q: want one of %s", req.Action, strings.Join(takedown.Actions, ", "))
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != "action" && !slices.Contains(allowed, k) {
			return Request{}, fieldErr(k, "not used by %s (it takes %s)", req.Action, strings.Join(allowed, ", "))
		}
	}
	return req, req.check()
}

// checkNoDuplicates refuses a field given twice: which one would hold?
func checkNoDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return fieldErr("", "not a JSON object: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fieldErr("", "not understood: %v", err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return fieldErr(key, "appears twice")
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fieldErr(key, "not understood: %v", err)
		}
	}
	return nil
}

// check checks the form of the fields the action needs.
func (r Request) check() error {
	for field, text := range map[string]string{"reason": r.Reason, "note": r.Note} {
		if len(text) > maxText {
			return fieldErr(field, "over %d bytes", maxText)
		}
		if strings.ContainsFunc(text, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' || c == 0x7f }) {
			return fieldErr(field, "contains a control character")
		}
	}
	switch r.Action {
	case takedown.ActionRoute:
		switch {
		case r.Contact == nil && r.Partner == "":
			return fieldErr("contact", "give a contact or a partner to route to")
		case r.Contact != nil && r.Partner != "":
			return fieldErr("partner", "give a contact or a partner, not both")
		case r.Contact != nil:
			return r.Contact.check("contact")
		}
	case takedown.ActionAddContact:
		if r.Contact == nil {
			return fieldErr("contact", "missing: the contact to add ({\"email\": …})")
		}
		if err := r.Contact.check("contact"); err != nil {
			return err
		}
		if r.Remember != "" && !slices.Contains([]string{RememberDomain, RememberNetwork, RememberASN}, r.Remember) {
			return fieldErr("remember", "%q: want domain, network or asn (or leave it out for this case only)", r.Remember)
		}
	case takedown.ActionPause:
		if r.Until == "" {
			return fieldErr("until", "missing: when the pause ends (RFC 3339, or a duration such as 48h)")
		}
		if strings.TrimSpace(r.Reason) == "" {
			return fieldErr("reason", "missing: why the notices are held")
		}
	case takedown.ActionClose:
		switch r.As {
		case CloseNotActionable:
			if r.DuplicateOf != "" {
				return fieldErr("duplicate_of", "only for as: duplicate")
			}
		case CloseDuplicate:
			if r.DuplicateOf == "" {
				return fieldErr("duplicate_of", "missing: the case this one duplicates")
			}
		case "":
			return fieldErr("as", "missing: not_actionable or duplicate")
		default:
			return fieldErr("as", "%q: want not_actionable or duplicate", r.As)
		}
		if strings.TrimSpace(r.Reason) == "" {
			return fieldErr("reason", "missing: why the case closes")
		}
	case takedown.ActionPartnerStatus:
		if !slices.Contains([]string{StatusRemoved, StatusInProgress, StatusNotIllegal}, r.Status) {
			return fieldErr("status", "%q: want removed, in_progress or not_illegal", r.Status)
		}
	}
	return nil
}

func (c *Contact) check(field string) error {
	a, err := mail.ParseAddress(strings.TrimSpace(c.Email))
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(c.Email) || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
		return fieldErr(field+".email", "%q is not a bare e-mail address", c.Email)
	}
	c.Email = a.Address
	if l := strings.ToLower(c.Language); l != "" && (len(l) != 2 || l[0] < 'a' || l[0] > 'z' || l[1] < 'a' || l[1] > 'z') {
		return fieldErr(field+".language", "%q is not a two-letter ISO 639-1 code (nl, en, de…)", c.Language)
	}
	c.Language = strings.ToLower(c.Language)
	if len(c.Name) > 200 || strings.ContainsFunc(c.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fieldErr(field+".name", "over 200 bytes or with a control character")
	}
	return nil
}

// until is when a pause asked for at now ends.
func (r Request) until(now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(r.Until); err == nil {
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, r.Until)
	if err != nil {
		return time.Time{}, fieldErr("until", "%q is neither an RFC 3339 time nor a duration (48h)", r.Until)
	}
	return t, nil
}
