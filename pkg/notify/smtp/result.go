package smtp

import (
	"errors"
	"fmt"

	gosmtp "github.com/emersion/go-smtp"
)

// Outcome is what became of one recipient of a message.
type Outcome int

// The outcomes of a recipient.
const (
	// Accepted: the relay took responsibility for delivery.
	Accepted Outcome = iota
	// Temporary: a 4xx answer, a dropped connection, a timeout, or a relay
	// problem such as a refused login; send again later with backoff.
	Temporary
	// Permanent: a 5xx answer for this recipient (or for the message as a
	// whole); sending the same message again will not help, so the caller
	// marks the contact failing and tries the next one.
	Permanent
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// RecipientResult is the outcome for one recipient, with the relay's answer
// when there was one.
type RecipientResult struct {
	Rcpt    string
	Outcome Outcome
	Code    int    // SMTP reply code; 0 when the relay gave none
	Reply   string // the relay's text, or the local error
}

// Result is the outcome of sending one message.
type Result struct {
	Recipients []RecipientResult
	// Err is the first transaction-level error (nil when every recipient was
	// accepted or refused one by one at RCPT).
	Err error
}

// Accepted lists the recipients the relay accepted.
func (r Result) Accepted() []string { return r.with(Accepted) }

// Temporary lists the recipients to retry later.
func (r Result) Temporary() []string { return r.with(Temporary) }

// Permanent lists the recipients refused for good.
func (r Result) Permanent() []string { return r.with(Permanent) }

func (r Result) with(o Outcome) []string {
	var out []string
	for _, rr := range r.Recipients {
		if rr.Outcome == o {
			out = append(out, rr.Rcpt)
		}
	}
	return out
}

// result tracks the outcome of each recipient while a transaction runs.
type result struct {
	rcpts   []RecipientResult
	refused []bool // refused at RCPT: later failures do not change these
	err     error
}

func newResult(rcpts []string) *result {
	r := &result{rcpts: make([]RecipientResult, len(rcpts)), refused: make([]bool, len(rcpts))}
	for i, rcpt := range rcpts {
		r.rcpts[i] = RecipientResult{Rcpt: rcpt, Outcome: Temporary}
	}
	return r
}

// set records err for recipient i (err nil means accepted).
func (r *result) set(i int, err error) {
	r.rcpts[i].Outcome, r.rcpts[i].Code, r.rcpts[i].Reply = classify(err)
	r.refused[i] = err != nil
}

// failPending gives every recipient not yet refused the outcome of err: a
// failure of the transaction or the connection touches them all alike.
func (r *result) failPending(err error) {
	if r.err == nil {
		r.err = err
	}
	o, code, reply := classify(err)
	for i := range r.rcpts {
		if !r.refused[i] {
			r.rcpts[i].Outcome, r.rcpts[i].Code, r.rcpts[i].Reply = o, code, reply
		}
	}
}

// failRelay marks every recipient temporary: a problem with the relay itself
// (no TLS, refused login, sender refused) is not the contact's fault.
func (r *result) failRelay(err error) {
	if r.err == nil {
		r.err = err
	}
	for i := range r.rcpts {
		r.rcpts[i] = RecipientResult{Rcpt: r.rcpts[i].Rcpt, Outcome: Temporary, Reply: err.Error()}
		var se *gosmtp.SMTPError
		if errors.As(err, &se) {
			r.rcpts[i].Code = se.Code
		}
	}
}

func (r *result) final() Result { return Result{Recipients: r.rcpts, Err: r.err} }

// classify turns the relay's answer into an outcome. Only an SMTP 5xx is
// permanent; anything else that went wrong (4xx, I/O error, timeout) may go
// right on a later try.
func classify(err error) (Outcome, int, string) {
	if err == nil {
		return Accepted, 250, ""
	}
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		if se.Code >= 500 && se.Code < 600 {
			return Permanent, se.Code, se.Message
		}
		return Temporary, se.Code, se.Message
	}
	return Temporary, 0, err.Error()
}
