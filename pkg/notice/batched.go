package notice

import (
	"fmt"

	"github.com/emersion/go-message/mail"
)

// assembleBatched writes the batched notice: multipart/mixed, the text
// first and then one xarf-N.json attachment per URL. People open the
// attachments; an X-ARF transport parser refuses the whole mail (it is no
// multipart/report) instead of reading one report of many.
func assembleBatched(h *mail.Header, n Notice, m Message) ([]byte, error) {
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary(n.Ref)})
	parts := []part{{name: "body", header: textHeader(), body: []byte(m.Body)}}
	for i, x := range m.XARF {
		name := fmt.Sprintf("xarf-%d.json", i+1)
		parts = append(parts, part{name: name, header: jsonHeader(name), body: x})
	}
	return writeMultipart(h, parts)
}
