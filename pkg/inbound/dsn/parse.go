package dsn

import (
	"slices"
	"strings"
)

// maxExplanation bounds Report.Explanation.
const maxExplanation = 2000

// Parse reads a message returned to the envelope sender (an mbox "From "
// line before it is allowed) and says what it is. It fails only for
// input without a readable header; anything else is a Report, of
// KindNone when it is no report at all.
func Parse(raw []byte) (Report, error) {
	m, err := readMail(TrimMbox(raw))
	if err != nil {
		return Report{}, err
	}
	return decide(m), nil
}

// decide applies the rules in the order that keeps one kind from being
// taken for another: structure first (a delivery-status part, a feedback
// report), then an MTA's text bounce, then automatic replies, and last
// the weak signs of a bounce (a daemon's subject).
func decide(m *mailParts) Report {
	text := strings.Join(m.Texts, "\n")
	rep := Report{Original: m.Original, Explanation: explanation(m.Texts)}
	if m.ReportType == "feedback-report" || m.Feedback {
		rep.Kind, rep.Format = KindReport, "arf"
		return rep
	}
	tr := readText(text)
	if rep.Original == nil && tr.Original != "" {
		rep.Original = headerOfText(tr.Original)
	}
	family, delay := familyOf(tr.Error)
	own := ownAddresses(m)
	var sf statusFields
	for _, s := range m.Status {
		part := readStatus(s)
		if sf.ReportingMTA == "" {
			sf.ReportingMTA = part.ReportingMTA
		}
		sf.Recipients = append(sf.Recipients, part.Recipients...)
	}
	rep.Format = "rfc3464"
	if len(sf.Recipients) == 0 && hasStatusFields(tr.Error) {
		sf = statusFieldsOfText(tr.Error)
		rep.Format = "rfc3464-text"
	}
	rep.ReportingMTA = sf.ReportingMTA
	sf.Recipients = slices.DeleteFunc(sf.Recipients, func(rc Recipient) bool { return rc.Address == "" && rc.Status == "" })
	if len(sf.Recipients) > 0 {
		for _, rc := range sf.Recipients {
			rep.Recipients = append(rep.Recipients, complete(rc, tr, delay))
		}
		return finish(rep)
	}

	daemon := daemonSender(m.From, m.Header.Get("From"), m.Header.Get("Return-Path"), nullPath(m))
	failedHdr := m.Header.Get("X-Failed-Recipients")
	subject := bounceSubject(m.Subject)
	strong := family != "" && family != "generic"
	switch {
	case m.ReportType == "delivery-status" && (daemon || subject || family != ""),
		strong && (daemon || subject || failedHdr != ""),
		family == "generic" && daemon && (subject || failedHdr != "" || len(tr.DiagLines) > 0),
		failedHdr != "" && daemon:
		return textBounce(rep, m, tr, family, delay, own)
	}
	if AutoReply(m.Header, m.Subject) {
		rep.Kind, rep.Format = KindAutoReply, ""
		return rep
	}
	if daemon && subject {
		return textBounce(rep, m, tr, family, delay, own)
	}
	rep.Kind, rep.Format = KindNone, ""
	return rep
}

// textBounce fills a report from the recipient blocks of a text bounce.
func textBounce(rep Report, m *mailParts, tr textReport, family string, delay bool, own []string) Report {
	if family == "" {
		family = "generic"
	}
	rep.Format = "text/" + family
	var addrs []string
	for _, r := range tr.Recipients {
		if !notRecipient(r.Address, own) {
			addrs = append(addrs, r.Address)
		}
	}
	if len(addrs) == 0 {
		for _, a := range tr.Mentioned {
			if !notRecipient(a, own) {
				addrs = append(addrs, a)
			}
		}
	}
	if len(addrs) == 0 {
		for _, a := range strings.Split(m.Header.Get("X-Failed-Recipients"), ",") {
			if a := cleanAddr(a); a != "" {
				addrs = append(addrs, a)
			}
		}
	}
	if len(addrs) == 0 && rep.Original != nil {
		if a := firstAddr(rep.Original.Get("To")); a != "" && !notRecipient(a, own) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		for _, a := range addrRE.FindAllString(tr.Error, 20) {
			if a = strings.ToLower(strings.Trim(a, ".-")); !notRecipient(a, own) {
				addrs = append(addrs, a)
				break
			}
		}
	}
	action := "failed"
	if delay {
		action = "delayed"
	}
	if len(addrs) == 0 {
		// A bounce that names nobody still says the message failed.
		addrs = append(addrs, "")
	}
	for _, a := range addrs {
		rep.Recipients = append(rep.Recipients, complete(Recipient{Address: a, Action: action}, tr, delay))
	}
	return finish(rep)
}

// complete fills in a recipient's diagnostic (from its text block when
// the status part has none), its codes, reason and permanence.
func complete(rc Recipient, tr textReport, delay bool) Recipient {
	var block []string
	for _, r := range tr.Recipients {
		if rc.Address != "" && (r.Address == rc.Address || r.Address == rc.OriginalRecipient) {
			block = r.Diag
		}
	}
	diag := rc.Diagnostic
	if diag == "" {
		diag = diagOf(block)
	}
	if !informative(diag) {
		if extra := diagOf(tr.DiagLines); extra != "" {
			diag = strings.TrimSpace(diag + " " + extra)
		}
	}
	if len(diag) > 2*maxDiag {
		diag = strings.ToValidUTF8(diag[:2*maxDiag], "?")
	}
	rc.Diagnostic = diag
	rc.Status = preferStatus(rc.Status, diag)
	rc.ReplyCode = findReply(diag)
	rc.Command = smtpCommand(diag)
	if rc.Command == "" {
		rc.Command = smtpCommand(tr.Error)
	}
	if rc.Action == "" {
		switch {
		case strings.HasPrefix(rc.Status, "2."):
			rc.Action = "delivered"
		case delay:
			rc.Action = "delayed"
		default:
			rc.Action = "failed"
		}
	}
	switch rc.Action {
	case "delivered", "relayed", "expanded":
		rc.Reason = "delivered"
		return rc
	}
	f := facts{Status: rc.Status, Reply: rc.ReplyCode, Diag: strings.ToLower(diag), Command: rc.Command, Action: rc.Action}
	f.Hint = hintOf(f.Diag)
	rc.Reason = reasonOf(f)
	if rc.Reason == ReasonOnHold || rc.Reason == ReasonUndefined {
		// The diagnostic names nothing; the MTA's own explanation may.
		l := strings.ToLower(tr.Error)
		if r := reasonOf(facts{Status: rc.Status, Reply: rc.ReplyCode, Diag: l, Command: rc.Command, Action: rc.Action, Hint: hintOf(l)}); r != ReasonOnHold && r != ReasonUndefined {
			rc.Reason = r
		}
	}
	if rc.Reason == "delivered" && rc.Action != "delivered" {
		rc.Reason = ReasonOnHold
	}
	rc.Permanent = rc.Action == "failed" && hardBounce(rc.Reason, rc.Status+" "+diag)
	return rc
}

// informative reports whether a diagnostic carries a code or a reason's
// wording of its own.
func informative(diag string) bool {
	if findStatus(diag) != "" || findReply(diag) != "" {
		return true
	}
	l := strings.ToLower(diag)
	for r := range phrases {
		if says(r, l) {
			return true
		}
	}
	return false
}

// finish orders the recipients (failed, then delayed, then the rest) and
// sets the kind.
func finish(rep Report) Report {
	rank := func(rc Recipient) int {
		switch rc.Action {
		case "failed":
			return 0
		case "delayed":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(rep.Recipients, func(a, b Recipient) int { return rank(a) - rank(b) })
	rep.Kind = KindReport
	if rc, ok := rep.First(); ok {
		switch {
		case rc.Action == "delayed", rc.Action == "failed" && rc.Reason == "expired":
			rep.Kind = KindDelay
		case rc.Action == "failed":
			rep.Kind = KindBounce
		}
	}
	return rep
}

// ownAddresses are addresses a bounce names that are not recipients: its
// sender and its addressee (the original's sender).
func ownAddresses(m *mailParts) []string {
	own := []string{m.From}
	for _, k := range []string{"To"} {
		if a := firstAddr(HeaderText(m.Header, k)); a != "" {
			own = append(own, a)
		}
	}
	return own
}

func nullPath(m *mailParts) bool {
	if !m.Header.Has("Return-Path") {
		return false
	}
	v := strings.TrimSpace(m.Header.Get("Return-Path"))
	return v == "<>" || v == ""
}

func explanation(texts []string) string {
	if len(texts) == 0 {
		return ""
	}
	s := texts[0]
	if len(s) > maxExplanation {
		s = s[:maxExplanation]
	}
	return strings.ToValidUTF8(s, "?")
}
