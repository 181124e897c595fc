package dsn

import (
	"fmt"
	"os"
	"testing"
)

func TestDump(t *testing.T) {
	f := os.Getenv("DUMP")
	if f == "" {
		t.Skip()
	}
	raw, _ := os.ReadFile(f)
	m, err := readMail(TrimMbox(raw))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("subject=%q from=%q rt=%q texts=%d status=%d fb=%v orig=%v\n", m.Subject, m.From, m.ReportType, len(m.Texts), len(m.Status), m.Feedback, m.Original != nil)
	for _, s := range m.Status {
		fmt.Printf("STATUS:\n%s\n", s)
	}
	tr := readText(joinTexts(m))
	fmt.Printf("ERROR PART:\n%s\n---\n", tr.Error)
	for _, r := range tr.Recipients {
		fmt.Printf("RCPT %s: %q\n", r.Address, r.Diag)
	}
	fmt.Printf("DIAGLINES %q\n", tr.DiagLines)
	rep := decide(m)
	fmt.Printf("REPORT %+v\n", rep.Recipients)
	fmt.Println(rep.Kind, rep.Format)
}

func joinTexts(m *mailParts) string {
	s := ""
	for _, t := range m.Texts {
		s += t + "\n"
	}
	return s
}
