package dsn

import (
	"strings"

	"github.com/emersion/go-message"
)

// AutoReply recognises out-of-office and other automatic answers: RFC
// 3834's Auto-Submitted, the headers common responders set instead, and
// the subjects they write. It is asked only of mail that is no bounce:
// many MTAs mark their bounces auto-replied too.
func AutoReply(h message.Header, subject string) bool {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply", "X-Vacation"} {
		if h.Has(k) {
			return true
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Auto-Response-Suppress")), "All") && h.Has("X-Ms-Exchange-Inbox-Rules-Loop") {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "auto_reply", "bulk", "junk", "list":
		return true
	}
	s := strings.ToLower(strings.TrimSpace(subject))
	for _, prefix := range autoSubjects {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// autoSubjects open the subjects of automatic answers.
var autoSubjects = []string{
	"automatic reply", "auto reply", "auto-reply", "autoreply", "auto:", "auto response", "auto-response",
	"autoresponse", "automated response", "automatic response", "out of office", "out of the office",
	"vacation", "away from", "on leave", "automatisch antwoord", "afwezig", "automatische antwort",
	"abwesenheitsnotiz", "abwesend", "réponse automatique", "absence", "respuesta automática",
	"fuera de la oficina", "risposta automatica", "fuori sede", "resposta automática", "autosvar",
	"автоответ", "自動応答", "自动回复",
}
