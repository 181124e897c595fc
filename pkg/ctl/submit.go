package ctl

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/takedownd/takedownd/pkg/takedown"
)

// reportFlags are the report fields given on the command line; they apply
// to every URL submitted in one call.
type reportFlags struct {
	reportID, confirmedAt               string
	classification, priority, mediaType string
	sha256, md5, sha1                   string
	analyst, source, partnerRef         string
}

func (o *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.reportID, "report-id", "", "report id (only with a single URL; default: generated)")
	fs.StringVar(&o.confirmedAt, "confirmed-at", "", "RFC 3339 time of the confirmation (default: now)")
	fs.StringVar(&o.classification, "classification", "", "baseline, A1, A2, B1 or B2 (required for URLs)")
	fs.StringVar(&o.priority, "priority", "", "normal or high (default normal)")
	fs.StringVar(&o.mediaType, "media-type", "", "image, video, audio, text or mixed")
	fs.StringVar(&o.sha256, "sha256", "", "SHA-256 of the confirmed content (hex)")
	fs.StringVar(&o.md5, "md5", "", "MD5 of the confirmed content (hex)")
	fs.StringVar(&o.sha1, "sha1", "", "SHA-1 of the confirmed content (hex)")
	fs.StringVar(&o.analyst, "analyst", "", "pseudonymous analyst id")
	fs.StringVar(&o.source, "source", "", "where the report came from (public, partner, crawler …)")
	fs.StringVar(&o.partnerRef, "partner-ref", "", "reference at the partner hotline that sent it")
}

// wireReport is a v1 report as takedownctl writes it, fields in the order
// of the contract.
type wireReport struct {
	ReportID       string           `json:"report_id"`
	URL            string           `json:"url"`
	ConfirmedAt    string           `json:"confirmed_at"`
	Classification string           `json:"classification"`
	MediaType      string           `json:"media_type,omitempty"`
	Hashes         *takedown.Hashes `json:"hashes,omitempty"`
	Priority       string           `json:"priority,omitempty"`
	Analyst        string           `json:"analyst,omitempty"`
	Source         string           `json:"source,omitempty"`
	PartnerRef     string           `json:"partner_ref,omitempty"`
}

// build returns the report for rawURL as JSON; id and now fill in the
// report id and confirmation time when the flags leave them out.
func (o *reportFlags) build(rawURL, id string, now time.Time) []byte {
	r := wireReport{
		ReportID: orDefault(o.reportID, id), URL: rawURL,
		ConfirmedAt:    orDefault(o.confirmedAt, now.UTC().Format(time.RFC3339)),
		Classification: o.classification, MediaType: o.mediaType, Priority: o.priority,
		Analyst: o.analyst, Source: o.source, PartnerRef: o.partnerRef,
	}
	if h := (takedown.Hashes{MD5: o.md5, SHA1: o.sha1, SHA256: o.sha256}); !h.Empty() {
		r.Hashes = &h
	}
	// A struct of strings always marshals.
	b, _ := json.Marshal(r)
	return b
}

// pending is one report ready to publish, with where it came from.
type pending struct {
	where string // "line 3 of urls.txt", "argument 1"
	id    string
	data  []byte
}

// newReportID returns a ULID-like id: milliseconds and 80 random bits in
// Crockford base32, so ids sort by time and do not collide.
func newReportID(now time.Time) string {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never returns an error
	const mask40 = 1<<40 - 1
	return "ctl-" + crockford(uint64(now.UnixMilli()), 10) +
		crockford(binary.BigEndian.Uint64(rnd[:8])&mask40, 8) +
		crockford(binary.BigEndian.Uint64(rnd[8:])&mask40, 8)
}

// crockford writes v in width digits of Crockford's base32.
func crockford(v uint64, width int) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b)
}

// collect reads the inputs into reports and validates every one. It
// returns all problems at once, each naming its line.
func (o *reportFlags) collect(urls []string, file string, stdin io.Reader, now time.Time) ([]pending, []string, error) {
	var out []pending
	var problems []string
	add := func(where string, data []byte) {
		r, err := takedown.DecodeReport(data, 0, now)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
			return
		}
		out = append(out, pending{where: where, id: r.ReportID, data: data})
	}
	for i, u := range urls {
		add(fmt.Sprintf("argument %d", i+1), o.build(u, newReportID(now), now))
	}
	if file == "" {
		return out, problems, nil
	}
	in := stdin
	name := "stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, nil, usagef("open report file: %w", err)
		}
		defer f.Close()
		in, name = f, file
	}
	sc := bufio.NewScanner(in)
	// Lines over the report limit must reach DecodeReport, which names
	// the limit, instead of stopping the scanner.
	sc.Buffer(make([]byte, 0, 64<<10), 4*takedown.MaxReportBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, n)
		if strings.HasPrefix(line, "{") {
			add(where, []byte(line))
			continue
		}
		if o.classification == "" {
			problems = append(problems, where+": a URL line needs -classification (baseline, A1, A2, B1 or B2)")
			continue
		}
		add(where, o.build(line, newReportID(now), now))
	}
	if err := sc.Err(); err != nil {
		return nil, nil, usagef("read %s: %w", name, err)
	}
	return out, problems, nil
}

func runSubmit(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("submit")
	var o reportFlags
	o.register(fs)
	file := fs.String("f", "", "file of reports: one URL per line, or one JSON report per line ('-' for stdin)")
	urls, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	switch {
	case len(urls) == 0 && *file == "":
		return usagef("submit needs a URL or -f FILE")
	case len(urls) > 0 && *file != "":
		return usagef("submit takes URLs or -f FILE, not both")
	case o.reportID != "" && (len(urls) > 1 || *file != ""):
		return usagef("-report-id names a single report: give one URL and no -f")
	case len(urls) > 0 && o.classification == "":
		return usagef("submit needs -classification (baseline, A1, A2, B1 or B2)")
	}
	now := c.env.now()
	if o.classification != "" {
		// Check the flags once rather than once per line of a long file.
		if _, err := takedown.DecodeReport(o.build("http://example.invalid/", "check", now), 0, now); err != nil {
			return withCode(ExitUsage, fmt.Errorf("report flags: %w", err))
		}
	}
	reports, problems, err := o.collect(urls, *file, c.env.Stdin, now)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(c.env.Stderr, p)
		}
		return invalidReport("%d of %d reports are invalid; nothing was published", len(problems), len(problems)+len(reports))
	}
	if len(reports) == 0 {
		return usagef("no reports in %s", *file)
	}
	nc, err := c.conn.jetStream()
	if err != nil {
		return err
	}
	defer nc.Close()
	for i, p := range reports {
		ack, err := c.conn.publishReport(ctx, nc, c.conn.subject, p.data, p.id)
		if err != nil {
			return fmt.Errorf("submit report %s (%s), %d of %d published before: %w", p.id, p.where, i, len(reports), err)
		}
		printPublished(c.env.Stdout, p.id, ack.Duplicate)
	}
	return nil
}

func printPublished(w io.Writer, id string, duplicate bool) {
	status := "published"
	if duplicate {
		status = "duplicate"
	}
	fmt.Fprintf(w, "%s\t%s\n", id, status)
}
