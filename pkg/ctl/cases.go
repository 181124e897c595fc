package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/takedown"
)

func runShow(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("show")
	byURL := fs.String("url", "", "look the case up by its URL (normalised as intake does)")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of text")
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	switch {
	case *byURL == "" && len(pos) == 1 && strings.Contains(pos[0], "://"):
		*byURL = pos[0] // "show https://…" is what people type
	case *byURL == "" && len(pos) != 1:
		return usagef("show needs one CASE_ID, or -url URL")
	case *byURL != "" && len(pos) > 0:
		return usagef("show takes a CASE_ID or -url URL, not both")
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	var v api.CaseView
	var body []byte
	if *byURL != "" {
		body, err = client.get(ctx, "/v1/cases", url.Values{"url": {*byURL}}, &v)
		err = notFound(err, "no case for URL %s", *byURL)
	} else {
		id := strings.ToUpper(pos[0])
		body, err = client.get(ctx, "/v1/cases/"+url.PathEscape(id), nil, &v)
		err = notFound(err, "case %s not found", id)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeRaw(c.env.Stdout, body)
	}
	printCase(c.env.Stdout, v)
	return nil
}

// runCheck asks for an immediate re-check of a case (the API answers at
// once; the result appears on the case's timeline).
// writeRaw writes an API answer as it came, indented, ending in a newline.
func writeRaw(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		buf.Reset()
		buf.Write(body)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

func runList(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("list")
	state := fs.String("state", "", "only cases in this state")
	since := fs.String("since", "", "only cases received at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "only cases received before this time (RFC 3339 or YYYY-MM-DD)")
	limit := fs.Int("limit", 0, "cases per page (default: the server's page size)")
	cursor := fs.String("cursor", "", "start after this case id (the next_cursor of a previous page)")
	all := fs.Bool("all", false, "follow the cursor through every page")
	urls := fs.Bool("urls", false, "print each case's URL instead of its host")
	asJSON := fs.Bool("json", false, `print {"cases": [...], "next_cursor": ...} as JSON`)
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("list takes no arguments, got %q", pos)
	}
	if *state != "" && !takedown.State(*state).Valid() {
		return usagef("-state: unknown state %q (want one of %s)", *state, stateNames())
	}
	if *limit < 0 {
		return usagef("-limit: want a positive number")
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"state": *state, "since": *since, "until": *until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	var out api.CaseList
	next := *cursor
	for {
		if next != "" {
			q.Set("cursor", next)
		}
		var page api.CaseList
		if _, err := client.get(ctx, "/v1/cases", q, &page); err != nil {
			return err
		}
		out.Cases = append(out.Cases, page.Cases...)
		// A cursor that does not move would loop forever.
		if !*all || page.NextCursor == "" || page.NextCursor == next {
			out.NextCursor = page.NextCursor
			break
		}
		next = page.NextCursor
	}
	if *asJSON {
		if out.Cases == nil {
			out.Cases = []takedown.Case{}
		}
		b, _ := json.Marshal(out)
		return writeRaw(c.env.Stdout, b)
	}
	printCaseTable(c.env.Stdout, out.Cases, *urls)
	if out.NextCursor != "" {
		fmt.Fprintf(c.env.Stderr, "more cases follow: add -cursor %s, or -all\n", out.NextCursor)
	}
	return nil
}

func stateNames() string {
	names := make([]string, len(takedown.States))
	for i, s := range takedown.States {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func printCaseTable(w io.Writer, cases []takedown.Case, urls bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	where := "HOST"
	if urls {
		where = "URL"
	}
	fmt.Fprintf(tw, "ID\tSTATE\tRECEIVED\tPRIORITY\tREPORTS\t%s\n", where)
	for _, cs := range cases {
		loc := cs.Host
		if urls {
			loc = cs.URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", cs.ID, cs.State, stamp(cs.ReceivedAt), cs.Priority, cs.ReportCount, loc)
	}
	_ = tw.Flush()
}
