package dsn

import "strings"

// family is an MTA's way of writing a text bounce: the sentences it
// opens its report with, and the ones that say it is only a warning that
// delivery is delayed. Matching one is what tells a text bounce from a
// person's mail that happens to say "undeliverable"; the wording follows
// the lhost modules of sisimai, which collected them from real bounces.
type family struct {
	Name    string
	Markers []string // lower case; any one identifies the family
	Delay   []string // lower case; any one makes the report a delay warning
}

var families = []family{
	{Name: "qmail", Markers: []string{
		"this is the qmail-send program", "i'm afraid i wasn't able to deliver your message to the following addresses",
		"this is a permanent error; i've given up", "i'm not going to try again; this message has been in the queue too long",
	}},
	{Name: "postfix", Markers: []string{
		"this is the mail system at host", "i'm sorry to have to inform you that your message could not",
		"the mail system", "this is the postfix program at host",
	}, Delay: []string{"this is a warning only", "delayed mail (still being retried)", "will continue to be attempted", "still being retried"}},
	{Name: "exim", Markers: []string{
		"this message was created automatically by mail delivery software",
		"a message that you sent could not be delivered to one or more of its",
		"a message that you sent has not yet been delivered to one or more of its",
		"message delivery has failed", "the following address(es) failed",
	}, Delay: []string{"has not yet been delivered to one or more of its", "no action is required on your part. delivery attempts will continue"}},
	{Name: "sendmail", Markers: []string{
		"----- the following addresses had permanent fatal errors -----", "----- transcript of session follows -----",
		"the original message was received at", "----- the following addresses had transient non-fatal errors -----",
		"unable to deliver message to the following recipients",
	}, Delay: []string{"warning: could not send message for past", "----- the following addresses had transient non-fatal errors -----", "will keep trying until message is"}},
	{Name: "gmail", Markers: []string{
		"delivery to the following recipient failed permanently", "delivery to the following recipients failed",
		"delivery to the following recipient has been delayed", "** address not found **", "** message not delivered **",
		"your message wasn't delivered to", "technical details of permanent failure", "technical details of temporary failure",
		"google tried to deliver your message",
	}, Delay: []string{"delivery to the following recipient has been delayed", "technical details of temporary failure", "** delivery incomplete **", "message not delivered yet"}},
	{Name: "exchange", Markers: []string{
		"your message did not reach some or all of the intended recipients", "delivery has failed to these recipients or groups",
		"the following recipient(s) cannot be reached", "did not reach the following recipient(s)",
		"diagnostic information for administrators", "your message couldn't be delivered", "your message wasn't delivered",
		"delivery is delayed to these recipients or groups", "the following recipient(s) could not be reached",
		"generating server:", "original message headers:",
	}, Delay: []string{"delivery is delayed to these recipients or groups", "this message hasn't been delivered yet", "delivery of this message has been delayed"}},
	{Name: "courier", Markers: []string{
		"this is a delivery status notification from", "courier mail server at", "your message was not delivered to",
	}},
	{Name: "opensmtpd", Markers: []string{
		"this is the mailer-daemon, please do not reply to this e-mail", "an error has occurred while attempting to deliver a message",
		"your message could not be delivered to one or more recipients",
	}, Delay: []string{"delivery attempts are still in progress", "delivery has been delayed"}},
	{Name: "yahoo", Markers: []string{
		"sorry, we were unable to deliver your message to the following address", "sorry, there was a problem delivering your message",
	}},
	{Name: "domino", Markers: []string{"was not delivered to:", "your message was not delivered to"}},
	{Name: "messagingserver", Markers: []string{"this report relates to a message you sent with the following header fields", "your message cannot be delivered to the following recipients"}},
	{Name: "generic", Markers: []string{
		"could not be delivered to", "mail could not be delivered", "message could not be delivered", "was not delivered to",
		"could not deliver", "unable to deliver", "undeliverable", "delivery failed", "delivery failure",
		"permanent error", "failed permanently", "permanent failure", "message delivery has failed",
		"delivery to the following", "non-delivery", "returned mail", "mail delivery failed",
		"failed recipient", "recipient address rejected", "user unknown", "no such user",
		"nicht zugestellt", "unzustellbar", "konnte nicht zugestellt", "non remis", "n'a pas pu être remis",
		"no se pudo entregar", "niet bezorgd", "onbestelbaar", "non recapitabile", "não foi possível entregar",
		"配信できません", "届きませんでした", "送信できませんでした", "не доставлено", "не может быть доставлено",
		"无法投递", "退信", "退回",
	}, Delay: []string{"delivery has been delayed", "has been delayed", "still trying", "will retry", "delivery attempts will continue",
		"has not yet been delivered", "not been delivered yet", "delivery delayed"}},
}

// familyOf returns the first family whose markers the text contains, and
// whether it is a delay warning.
func familyOf(text string) (name string, delay bool) {
	l := strings.ToLower(text)
	for _, f := range families {
		for _, m := range f.Markers {
			if strings.Contains(l, m) {
				for _, d := range f.Delay {
					if strings.Contains(l, d) {
						return f.Name, true
					}
				}
				return f.Name, false
			}
		}
	}
	return "", false
}

// bounceSubjects are words of the subjects MTAs give their reports, in
// the languages seen from hosters' servers.
var bounceSubjects = []string{
	"undeliver", "undelivered", "delivery status notification", "failure notice", "returned mail", "delivery failed",
	"delivery failure", "delivery has failed", "could not be delivered", "mail delivery failed", "mail delivery system",
	"delivery status", "mail failure", "non-delivery", "nondelivery", "not delivered", "delivery notification",
	"delivery problem", "warning: could not send", "delayed mail", "delivery delayed", "delivery is delayed",
	"message delayed", "returned to sender", "rejected:", "failed delivery", "mail system error", "bounce",
	"unzustellbar", "nicht zugestellt", "onbestelbaar", "niet bezorgd", "non remis", "non distribuable",
	"no entregado", "non recapitabile", "não entregue", "返送", "エラー", "не доставлено", "未能送达", "退信",
	"delivery report", "notification d'état de remise", "mail could not be delivered", "fehlgeschlagen",
	"nicht zustellbar", "échec de la remise", "échec de distribution", "non consegnato", "niet afgeleverd",
	"mensaje no entregado", "falha na entrega",
}

// bounceSubject reports whether a subject reads like an MTA's report.
func bounceSubject(s string) bool {
	l := strings.ToLower(s)
	for _, w := range bounceSubjects {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// daemonSender reports whether a message comes from a mail system rather
// than a person: a daemon's address or name, or the null return path of
// a bounce.
func daemonSender(from, fromHeader, returnPath string, nullPath bool) bool {
	local, _, _ := strings.Cut(from, "@")
	switch {
	case nullPath:
		return true
	case strings.Contains(local, "mailer-daemon"), strings.Contains(local, "mailer_daemon"), local == "postmaster",
		local == "mail-daemon", local == "maildaemon", strings.HasPrefix(local, "bounce"), local == "mdaemon",
		strings.Contains(local, "daemon"), local == "root":
		return true
	}
	l := strings.ToLower(fromHeader)
	for _, w := range []string{"mail delivery", "mailer-daemon", "mail system", "postmaster", "mailer daemon", "delivery subsystem"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	_ = returnPath
	return false
}
