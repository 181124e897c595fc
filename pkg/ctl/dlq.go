package ctl

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/takedownd/takedownd/pkg/store"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// headerOrigMsgID is where the dead-letter stream keeps the rejected
// message's own Nats-Msg-Id (see store.Reject).
const headerOrigMsgID = "Takedown-Original-Msg-Id"

func runDLQ(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 {
		return usagef("dlq needs a subcommand: list, show SEQ or resubmit SEQ")
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, c, args[1:])
	case "show":
		return runDLQShow(ctx, c, args[1:])
	case "resubmit":
		return runDLQResubmit(ctx, c, args[1:])
	}
	return usagef("unknown dlq subcommand %q (want list, show or resubmit)", args[0])
}

type dlqPage struct {
	DeadLetters []store.DeadLetter `json:"dead_letters"`
}

func runDLQList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("dlq list")
	after := fs.Uint64("after", 0, "only dead letters with a sequence above this")
	limit := fs.Int("limit", 0, "dead letters per page (default: the server's page size)")
	all := fs.Bool("all", false, "follow through every page")
	asJSON := fs.Bool("json", false, `print {"dead_letters": [...]} as JSON`)
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("dlq list takes no arguments, got %q", pos)
	}
	if *limit < 0 {
		return usagef("-limit: want a positive number")
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	var out dlqPage
	next := *after
	for {
		q := url.Values{"after": {strconv.FormatUint(next, 10)}}
		if *limit > 0 {
			q.Set("limit", strconv.Itoa(*limit))
		}
		var page dlqPage
		if _, err := client.get(ctx, "/v1/dlq", q, &page); err != nil {
			return err
		}
		out.DeadLetters = append(out.DeadLetters, page.DeadLetters...)
		// The server stops at the stream's end, so an empty page is the end.
		if !*all || len(page.DeadLetters) == 0 {
			break
		}
		next = page.DeadLetters[len(page.DeadLetters)-1].Seq
	}
	if *asJSON {
		if out.DeadLetters == nil {
			out.DeadLetters = []store.DeadLetter{}
		}
		b, _ := json.Marshal(out)
		return writeRaw(c.env.Stdout, b)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tREJECTED\tBY\tREPORT_ID\tREASON")
	for _, dl := range out.DeadLetters {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", dl.Seq, stamp(dl.RejectedAt), dl.By, orDefault(reportIDOf(dl), "-"), shorten(dl.Reason, 120))
	}
	return tw.Flush()
}

// reportIDOf is the report id a dead letter was published under, or the
// one in its payload when it had none.
func reportIDOf(dl store.DeadLetter) string {
	if id := dl.Header.Get(headerOrigMsgID); id != "" {
		return id
	}
	var r struct {
		ID any `json:"report_id"`
	}
	if json.Unmarshal(dl.Data, &r) == nil {
		if s, ok := r.ID.(string); ok {
			return s
		}
	}
	return ""
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// getDeadLetter fetches one dead letter, with its raw JSON.
func (c *cli) getDeadLetter(ctx context.Context, raw string) (store.DeadLetter, []byte, error) {
	seq, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || seq == 0 {
		return store.DeadLetter{}, nil, usagef("dead letter sequence %q is not a positive number", raw)
	}
	client, err := c.apiClient()
	if err != nil {
		return store.DeadLetter{}, nil, err
	}
	var dl store.DeadLetter
	body, err := client.get(ctx, "/v1/dlq/"+strconv.FormatUint(seq, 10), nil, &dl)
	return dl, body, notFound(err, "dead letter %d not found", seq)
}

func runDLQShow(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("dlq show")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of text")
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dlq show needs one SEQ")
	}
	dl, body, err := c.getDeadLetter(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return writeRaw(c.env.Stdout, body)
	}
	w := c.env.Stdout
	kv(w, "Dead letter", "%d (%s)", dl.Seq, dl.Subject)
	kv(w, "Reason", "%s", dl.Reason)
	kv(w, "Rejected", "%s by %s", stamp(dl.RejectedAt), orDefault(dl.By, "-"))
	kv(w, "Original", "%s", joinNonEmpty(", ", dl.OrigSubj, "sequence "+strconv.FormatUint(dl.OrigSeq, 10), labelled("msg id", dl.Header.Get(headerOrigMsgID))))
	fmt.Fprintln(w, "Headers")
	keys := make([]string, 0, len(dl.Header))
	for k := range dl.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range dl.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	fmt.Fprintf(w, "Payload (%d bytes)\n", len(dl.Data))
	printPayload(w, dl.Data)
	return nil
}

// printPayload prints JSON indented, other text as it is and binary as a
// hex dump, so a person can see what exactly was rejected.
func printPayload(w io.Writer, data []byte) {
	var buf bytes.Buffer
	switch {
	case json.Indent(&buf, data, "  ", "  ") == nil:
		fmt.Fprintf(w, "  %s\n", buf.Bytes())
	case utf8.Valid(data):
		fmt.Fprintf(w, "  (not JSON)\n  %s\n", bytes.ReplaceAll(data, []byte("\n"), []byte("\n  ")))
	default:
		fmt.Fprintf(w, "  (binary)\n%s", hex.Dump(data))
	}
}

func runDLQResubmit(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("dlq resubmit")
	file := fs.String("f", "", "corrected report (JSON) from this file, '-' for stdin (default: the original payload)")
	edit := fs.Bool("edit", false, "correct the payload in $VISUAL or $EDITOR first")
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("dlq resubmit needs one SEQ")
	}
	if *file != "" && *edit {
		return usagef("dlq resubmit takes -f FILE or -edit, not both")
	}
	dl, _, err := c.getDeadLetter(ctx, pos[0])
	if err != nil {
		return err
	}
	// Only a rejected report can be corrected into a report; other dead
	// letters (mail that matched no notice) are for reading.
	if dl.Subject != store.DLQPrefix+"reports" {
		return usagef("dead letter %d is not a rejected report (it is on %s): read it with dlq show", dl.Seq, dl.Subject)
	}
	data := dl.Data
	switch {
	case *file == "-":
		data, err = io.ReadAll(io.LimitReader(c.env.Stdin, 4*takedown.MaxReportBytes))
	case *file != "":
		data, err = os.ReadFile(*file)
	case *edit:
		data, err = c.editPayload(ctx, dl.Data)
	}
	if err != nil {
		return usagef("read corrected report: %w", err)
	}
	// A correction goes out on one line, as the analyst tool sends it,
	// however it was laid out; the original goes out byte for byte.
	var compact bytes.Buffer
	if (*file != "" || *edit) && json.Compact(&compact, data) == nil {
		data = compact.Bytes()
	}
	r, err := takedown.DecodeReport(data, 0, c.env.now())
	if err != nil {
		return invalidReport("dead letter %d not re-submitted: %w", dl.Seq, err)
	}
	subject := c.conn.subject
	if !c.conn.subjectChosen(fs) && dl.OrigSubj != "" {
		subject = dl.OrigSubj
	}
	nc, err := c.conn.jetStream()
	if err != nil {
		return err
	}
	defer nc.Close()
	ack, err := c.conn.publishReport(ctx, nc, subject, data, r.ReportID)
	if err == nil && ack.Duplicate && r.ReportID == dl.Header.Get(headerOrigMsgID) {
		// The stream still remembers the rejected message's msg id (for its
		// duplicate window) and dropped the correction. Intake accepts a
		// report without the header and keeps each report_id once through
		// its report index, so send it again without one.
		ack, err = c.conn.publishReport(ctx, nc, subject, data, "")
	}
	if err != nil {
		return fmt.Errorf("resubmit dead letter %d: %w", dl.Seq, err)
	}
	printPublished(c.env.Stdout, r.ReportID, ack.Duplicate)
	return nil
}

// editPayload opens the payload in the user's editor and returns what was
// saved. The file holds a URL of abuse material: owner-only, removed after.
func (c *cli) editPayload(ctx context.Context, data []byte) ([]byte, error) {
	editor := orDefault(c.env.getenv("VISUAL"), orDefault(c.env.getenv("EDITOR"), "vi"))
	f, err := os.CreateTemp("", "takedownctl-*.json")
	if err != nil {
		return nil, fmt.Errorf("create edit file: %w", err)
	}
	defer os.Remove(f.Name())
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") != nil {
		buf.Reset()
		buf.Write(data)
	}
	buf.WriteString("\n")
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write edit file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write edit file: %w", err)
	}
	// Through the shell, so that EDITOR may carry arguments ("code -w").
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "sh", f.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.env.Stdin, c.env.Stdout, c.env.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run editor %q: %w", editor, err)
	}
	edited, err := os.ReadFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("read edit file: %w", err)
	}
	return edited, nil
}
