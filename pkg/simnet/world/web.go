package world

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// startWeb serves the world's own pages: what the demo sites do and
// whether their material is still up, the notices received, the RDAP
// counts, and the kept .eml files.
func (w *World) startWeb() error {
	ln, err := net.Listen("tcp", w.opts.Listen.Web)
	if err != nil {
		return fmt.Errorf("listen web: %w", err)
	}
	w.webAddr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", w.pageIndex)
	mux.HandleFunc("GET /mail", w.pageMail)
	mux.HandleFunc("GET /mail/{name}", w.pageMailFile)
	mux.HandleFunc("GET /rdap", w.pageRDAP)
	mux.HandleFunc("GET /state.json", w.pageState)
	w.web = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go w.web.Serve(ln) //nolint:errcheck // Serve returns when Close is called
	return nil
}

// DemoState is a demo URL with what became of it so far.
type DemoState struct {
	DemoURL
	Online    bool      `json:"online"`
	NoticedAt time.Time `json:"noticed_at,omitzero"`
	GoneAt    time.Time `json:"gone_at,omitzero"` // when it goes, or went, for good
	Moved     bool      `json:"moved,omitempty"`
}

// DemoStates reports every demo URL (and other URLs published on demo
// sites under /demo/) as of now.
func (w *World) DemoStates() []DemoState {
	out := make([]DemoState, 0, len(w.demo))
	for _, d := range w.demo {
		host, path, _ := splitURL(d.URL)
		s := w.sites[host]
		st, n := w.urls.lookup(host, path)
		ds := DemoState{DemoURL: d, Moved: s.movedAt.Load() != 0}
		if st != nil {
			ds.Online, ds.GoneAt = s.behaviour.online(st, w.removeAfter(s, n), s.movedAt.Load(), w.now())
			if at := st.noticed.Load(); at != 0 {
				ds.NoticedAt = time.Unix(0, at)
			}
		}
		out = append(out, ds)
	}
	return out
}

func (w *World) pageIndex(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(rw, "takedownsim world, %s\n\n", w.now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(rw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tnow\tnoticed\tgone for good\twhat the hoster does")
	for _, d := range w.DemoStates() {
		state := "online"
		if !d.Online {
			state = "gone"
		}
		if d.Kind == KindUnresolvable {
			state = "no DNS"
		}
		if d.Moved {
			state += ", moved"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.URL, state, clock(d.NoticedAt), clock(d.GoneAt), d.Says)
	}
	_ = tw.Flush()
	fmt.Fprintf(rw, "\nAny other path on a demo site behaves the same. Notices received: %d (/mail); RDAP queries: %d (/rdap).\n",
		w.noticeCount(), w.pace.Requests())
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05")
}

func (w *World) noticeCount() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.noticesSeen
}

func (w *World) pageMail(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.mu.Lock()
	recent := append([]Notice(nil), w.recent...)
	w.mu.Unlock()
	tw := tabwriter.NewWriter(rw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "at\tref\tkind\tvia\tto\tURLs")
	for i := len(recent) - 1; i >= 0; i-- {
		n := recent[i]
		urls := make([]string, 0, len(n.Items))
		for _, it := range n.Items {
			urls = append(urls, it.URL)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", clock(n.At), n.Ref, n.Kind, n.Channel, strings.Join(n.To, ","), strings.Join(urls, " "))
	}
	_ = tw.Flush()
	if w.opts.KeepMail {
		fmt.Fprintf(rw, "\nEvery message is kept in %s (GET /mail/<file>).\n", filepath.Join(w.opts.Dir, "mail"))
	}
}

func (w *World) pageMailFile(rw http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !w.opts.KeepMail || name != filepath.Base(name) || !strings.HasSuffix(name, ".eml") {
		http.NotFound(rw, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(w.opts.Dir, "mail", name))
	if err != nil {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "message/rfc822")
	_, _ = rw.Write(b)
}

func (w *World) pageRDAP(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	tw := tabwriter.NewWriter(rw, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tlimit/min\tburst\trequests\t429/503\tdropped\ttoo fast\tearly\t")
	for _, p := range w.pace.Report() {
		fmt.Fprintf(tw, "%s\t%g\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Server, p.PerMinute, p.Burst, p.Requests, p.Limited, p.Dropped, p.TooFast, p.Early)
	}
	_ = tw.Flush()
}

func (w *World) pageState(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{
		"demo": w.DemoStates(), "rdap": w.pace.Report(), "notices": w.noticeCount(),
	})
}
