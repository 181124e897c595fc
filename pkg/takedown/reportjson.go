package takedown

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxReportDepth bounds how deeply a report's JSON may nest. A v1 report
// is two levels deep (the report and its hashes); unknown fields may add a
// few, but nothing an analyst tool sends needs more, and a bound keeps a
// hostile message from costing a deep walk.
const MaxReportDepth = 16

// scanned is what the walk over a report's JSON found before any field is
// interpreted.
type scanned struct {
	// fatal is set when the message is not one JSON object within the
	// bounds: nothing else is worth saying about it.
	fatal *ReportError
	// problems are strings no field may hold (control characters, the
	// replacement character) and repeated keys, each naming its field.
	problems ReportErrors
	// flagged are the top-level fields with a problem, so field checks do
	// not report them a second time.
	flagged map[string]bool
}

// scanReport walks data token by token, before it is decoded into fields:
// the decoder would replace invalid UTF-8 silently and would take the last
// of two repeated keys, and a depth error from it reads as "not a JSON
// object". The walk knows where it is, so every problem names its field.
func scanReport(data []byte) scanned {
	if cleanReportJSON(data) {
		// The walk would find nothing.
		return scanned{}
	}
	return walkReport(data)
}

// walkReport is scanReport's walk.
func walkReport(data []byte) scanned {
	var s scanned
	if !utf8.Valid(data) {
		off := invalidUTF8At(data)
		s.fatal = &ReportError{Reason: fmt.Sprintf("not valid UTF-8: byte 0x%02x at offset %d (the text was not encoded as UTF-8)", data[off], off)}
		return s
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			switch {
			case s.flagged == nil:
				s.fatal = &ReportError{Reason: "not a JSON object: the message is empty"}
			case len(stack) > 0:
				s.fatal = &ReportError{Reason: "not a JSON object: the message ends before the object is closed"}
			}
			return s
		}
		if err != nil {
			s.fatal = &ReportError{Reason: "not a JSON object: " + jsonErrText(err)}
			if len(stack) == 0 && s.flagged != nil {
				s.fatal.Reason = "trailing data after the JSON object"
			}
			return s
		}
		if len(stack) == 0 {
			if s.flagged != nil {
				s.fatal = &ReportError{Reason: "trailing data after the JSON object"}
				return s
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				s.fatal = &ReportError{Reason: "not a JSON object"}
				return s
			}
			s.flagged = map[string]bool{}
			stack = append(stack, &frame{obj: true, wantKey: true, keys: map[string]bool{}})
			continue
		}
		top := stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].valueDone()
			}
			continue
		}
		if top.obj && top.wantKey {
			key := tok.(string) // the decoder allows only strings here
			top.key, top.wantKey = key, false
			if top.keys[key] {
				s.add(stack, "appears twice (which one holds?)")
			}
			top.keys[key] = true
			if reason := badString(key); reason != "" {
				s.add(stack, "name "+reason)
			}
			continue
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= MaxReportDepth {
				s.fatal = &ReportError{Field: stack[0].key, Reason: fmt.Sprintf("nested deeper than %d levels", MaxReportDepth)}
				return s
			}
			stack = append(stack, &frame{obj: v == '{', wantKey: v == '{', keys: map[string]bool{}})
		case string:
			if reason := badString(v); reason != "" {
				s.add(stack, reason)
			}
			top.valueDone()
		default:
			top.valueDone()
		}
	}
}

// frame is one open object or array of the walk.
type frame struct {
	obj     bool
	wantKey bool
	key     string // the current key of an object
	index   int    // the current element of an array
	keys    map[string]bool
}

func (f *frame) valueDone() {
	if f.obj {
		f.wantKey = true
		return
	}
	f.index++
}

// add records a problem at the current position of the walk.
func (s *scanned) add(stack []*frame, reason string) {
	s.problems = append(s.problems, &ReportError{Field: fieldPath(stack), Reason: reason})
	s.flagged[stack[0].key] = true
}

// fieldPath names the current position as "hashes.md5" or "tags[2]". A
// name that is itself unprintable is quoted, so the reason stays readable.
func fieldPath(stack []*frame) string {
	var b []byte
	for i, f := range stack {
		if f.obj && i > 0 {
			b = append(b, '.')
		}
		switch {
		case f.obj && badString(f.key) != "":
			b = strconv.AppendQuoteToASCII(b, f.key)
		case f.obj:
			b = append(b, f.key...)
		default:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(f.index), 10)
			b = append(b, ']')
		}
	}
	return string(b)
}

// badString says why s may not appear in a report, or "". Control
// characters have no place in an id, a URL or a name, and break the logs
// and headers they end up in; U+FFFD is what text that was not UTF-8 (or a
// lone surrogate escape such as \ud800) turned into on the way.
func badString(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return fmt.Sprintf("contains U+FFFD at byte %d (text that was not valid UTF-8, or a lone surrogate escape)", i)
		case unicode.IsControl(r):
			return fmt.Sprintf("contains control character U+%04X at byte %d", r, i)
		}
	}
	return ""
}

func invalidUTF8At(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return 0
}

// jsonErrText is the decoder's complaint with its offset, which is what
// a developer of the analyst tool needs to find it.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

// cleanReportJSON reports, without allocating, whether data is what
// almost every report is: valid UTF-8 holding one JSON object, nested
// less deep than the bound, with no key twice in an object and no string
// the walk would flag, and no escapes in strings (which this check does
// not decode). False says only that the walk must look: it is the walk
// that names the problems.
func cleanReportJSON(data []byte) bool {
	if first := bytes.TrimLeft(data, " \t\r\n"); len(first) == 0 || first[0] != '{' || !utf8.Valid(data) || !json.Valid(data) {
		return false
	}
	// keys holds the keys of the open objects, each object's after the
	// position its frame recorded; valid JSON leaves only the structure
	// to follow.
	var (
		frames [MaxReportDepth]struct {
			obj     bool
			wantKey bool
			from    int
		}
		keysBuf [32][]byte
		keys    = keysBuf[:0]
		depth   int
	)
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if depth >= MaxReportDepth-1 {
				return false
			}
			frames[depth].obj, frames[depth].wantKey, frames[depth].from = c == '{', c == '{', len(keys)
			depth++
		case '}', ']':
			depth--
			keys = keys[:frames[depth].from]
		case ',':
			if f := &frames[depth-1]; f.obj {
				f.wantKey = true
			}
		case '"':
			end := i + 1
			for data[end] != '"' {
				if data[end] == '\\' {
					return false
				}
				end++
			}
			str := data[i+1 : end]
			i = end
			if !plainString(str) {
				return false
			}
			if f := &frames[depth-1]; f.obj && f.wantKey {
				for _, k := range keys[f.from:] {
					if string(k) == string(str) {
						return false
					}
				}
				keys = append(keys, str)
				f.wantKey = false
			}
		}
	}
	return true
}

// plainString reports whether badString would find nothing in s.
func plainString(s []byte) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
		i += n
	}
	return true
}
