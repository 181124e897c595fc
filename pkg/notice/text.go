package notice

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"
)

// defaultTemplates are the templates shipped with the binary; config/templates/
// holds the same files for a hotline to copy and edit.
//
//go:embed templates/*.tmpl
var defaultTemplates embed.FS

// DefaultTemplates returns the embedded default templates by file name.
func DefaultTemplates() (map[string][]byte, error) {
	return readTemplates(defaultTemplates, "templates")
}

// Templates renders the subject and body of notices.
type Templates struct {
	set *template.Template
}

// LoadTemplates parses the embedded templates, with every *.tmpl file in dir
// replacing the embedded file of the same name (or adding to them). An empty
// dir means the embedded templates alone.
func LoadTemplates(dir string) (*Templates, error) {
	files, err := DefaultTemplates()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		overrides, err := readTemplates(os.DirFS(dir), ".")
		if err != nil {
			return nil, fmt.Errorf("read templates %s: %w", dir, err)
		}
		for name, b := range overrides {
			files[name] = b
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	set := template.New("notice").Funcs(template.FuncMap{
		"utc":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"join": strings.Join,
	}).Option("missingkey=error")
	for _, name := range names {
		if _, err := set.New(name).Parse(string(files[name])); err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
	}
	for _, want := range []string{"subject", "body"} {
		if set.Lookup(want) == nil {
			return nil, fmt.Errorf("parse templates: no %q template defined", want)
		}
	}
	return &Templates{set: set}, nil
}

func readTemplates(fsys fs.FS, dir string) (map[string][]byte, error) {
	paths, err := fs.Glob(fsys, filepath.ToSlash(filepath.Join(dir, "*.tmpl")))
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read template %s: %w", p, err)
		}
		files[filepath.Base(p)] = b
	}
	return files, nil
}

// view is what the templates see: the notice plus values derived from it,
// so the templates need no arithmetic.
type view struct {
	Notice
	ReplyAddr     string
	DeadlineAt    time.Time
	DeadlineHours int
	Items         []viewItem
}

type viewItem struct {
	Item
	N int
}

func newView(n Notice, plusReplyTo bool) view {
	v := view{
		Notice:     n,
		ReplyAddr:  n.ReplyAddress(plusReplyTo),
		DeadlineAt: n.DeadlineTime(),
	}
	v.DeadlineHours = int(v.DeadlineAt.Sub(n.SentAt).Round(time.Hour) / time.Hour)
	for i, it := range n.Items {
		v.Items = append(v.Items, viewItem{Item: it, N: i + 1})
	}
	return v
}

// Text renders the subject and the plain-text body of n.
func (t *Templates) Text(n Notice, plusReplyTo bool) (subject, body string, err error) {
	v := newView(n, plusReplyTo)
	var sb, bb bytes.Buffer
	if err := t.set.ExecuteTemplate(&sb, "subject", v); err != nil {
		return "", "", fmt.Errorf("render subject: %w", err)
	}
	if err := t.set.ExecuteTemplate(&bb, "body", v); err != nil {
		return "", "", fmt.Errorf("render body: %w", err)
	}
	subject = strings.Join(strings.Fields(sb.String()), " ")
	if subject == "" {
		return "", "", errors.New("render subject: empty")
	}
	return subject, bb.String(), nil
}
