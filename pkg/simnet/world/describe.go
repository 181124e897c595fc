package world

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Describe writes what a person needs to use the world: where each server
// listens, how to start the daemon against it, and the demo URLs.
func (w *World) Describe(out io.Writer, configPath string, d Daemon) {
	a := w.Addrs()
	regs := make([]string, 0, 16)
	for _, s := range w.RDAP.Servers() {
		regs = append(regs, s.Name)
	}
	fmt.Fprintf(out, "takedownsim world is running; Ctrl-C stops it.\n\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  DNS\t%s (udp and tcp)\n", a.DNS)
	fmt.Fprintf(tw, "  RDAP\thttp://%s/<registry>/ (%s)\n", a.RDAP, strings.Join(regs, " "))
	fmt.Fprintf(tw, "  mail relay\t%s (keeps every message)\n", a.SMTP)
	fmt.Fprintf(tw, "  partner DE\t%s (webhook)\n", w.PartnerURL())
	fmt.Fprintf(tw, "  hosters\t%s (every site of the world)\n", a.Hoster)
	fmt.Fprintf(tw, "  pages\thttp://%s/ (demo URLs and their state), /mail, /rdap\n", a.Web)
	_ = tw.Flush()
	if w.opts.KeepMail {
		fmt.Fprintf(out, "  Mails are kept as %s/mail/*.eml\n", w.opts.Dir)
	}
	if w.plan.Hosts > 0 {
		fmt.Fprintf(out, "  Generated: %d hosts (%s … %s) on %d networks under %d domains\n",
			w.plan.Hosts, w.Host(0), w.Host(w.plan.Hosts-1), w.plan.Networks, w.plan.Domains)
	}
	fmt.Fprintf(out, "\nThe daemon's config is %s (data dir %s). Start it with\n\n", configPath, d.DataDir)
	fmt.Fprintf(out, "  %s=$(cat %s) go run ./cmd/takedownd -config %s\n\n", PartnerSecretEnv, w.file("partner-secret"), configPath)
	fmt.Fprintf(out, "then publish a demo URL with the analyst's key the daemon writes at first start:\n\n")
	nats := or(d.NATSListen, "127.0.0.1:4222")
	fmt.Fprintf(out, "  nats --server nats://%s --nkey %s/nats-analyst.nk pub -J takedown.reports -H Nats-Msg-Id:demo-1 \\\n", nats, d.DataDir)
	fmt.Fprintf(out, "    \"{\\\"report_id\\\":\\\"demo-1\\\",\\\"url\\\":\\\"%s\\\",\\\"confirmed_at\\\":\\\"$(date -u +%%FT%%TZ)\\\",\\\"classification\\\":\\\"A1\\\"}\"\n\n", w.demo[0].URL)
	fmt.Fprintf(out, "and watch http://%s/ (the demo URLs' state) and http://%s/mail (the notices).\n\n", a.Web, a.Web)
	fmt.Fprintf(out, "Demo URLs (any other path on these sites behaves the same):\n\n")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, d := range w.demo {
		fmt.Fprintf(tw, "  %s\t%s\n", d.URL, d.Says)
	}
	_ = tw.Flush()
}
