package notice

import (
	"encoding/json"
	"fmt"
	"time"
)

// ForwardPayload is the JSON a partner hotline receives over a webhook or a
// NATS subject: a summary of the case per URL plus the X-ARF reports.
type ForwardPayload struct {
	Version    int           `json:"version"`
	Reference  string        `json:"reference"`
	Kind       Kind          `json:"kind"`
	SentAt     time.Time     `json:"sent_at"`
	DeadlineAt time.Time     `json:"deadline_at"`
	From       ForwardSender `json:"from"`
	ReplyTo    string        `json:"reply_to"`
	Items      []ForwardItem `json:"items"`
	XARF       []XARF        `json:"xarf"`
}

// ForwardSender names the hotline that forwards.
type ForwardSender struct {
	Hotline string `json:"hotline"`
	Country string `json:"country"`
	Contact string `json:"contact"`
	Website string `json:"website,omitempty"`
}

// ForwardItem summarises one URL.
type ForwardItem struct {
	CaseID         string            `json:"case_id"`
	URL            string            `json:"url"`
	IPs            []string          `json:"ips,omitempty"`
	ConfirmedAt    time.Time         `json:"confirmed_at"`
	Classification string            `json:"classification"`
	MediaType      string            `json:"media_type,omitempty"`
	Hashes         map[string]string `json:"hashes,omitempty"`
	ReportIDs      []string          `json:"report_ids,omitempty"`
}

// ForwardJSON validates n and returns the forward payload as JSON. Like a
// rendered message it depends on n alone, so a retry sends the same bytes.
func ForwardJSON(n Notice, plusReplyTo bool) ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("encode forward %s: %w", n.Ref, err)
	}
	p := ForwardPayload{
		Version:    1,
		Reference:  n.Ref,
		Kind:       n.Kind,
		SentAt:     n.SentAt.UTC(),
		DeadlineAt: n.DeadlineTime().UTC(),
		From:       ForwardSender{Hotline: n.Hotline.Name, Country: n.Hotline.Country, Contact: n.From, Website: n.Hotline.Website},
		ReplyTo:    n.ReplyAddress(plusReplyTo),
		XARF:       XARFReports(n),
	}
	for _, it := range n.Items {
		fi := ForwardItem{
			CaseID: it.CaseID, URL: it.URL, IPs: it.IPs, ConfirmedAt: it.ConfirmedAt.UTC(),
			Classification: it.Classification, MediaType: it.MediaType, ReportIDs: it.ReportIDs,
		}
		for k, v := range map[string]string{"md5": it.Hashes.MD5, "sha1": it.Hashes.SHA1, "sha256": it.Hashes.SHA256} {
			if v != "" {
				if fi.Hashes == nil {
					fi.Hashes = map[string]string{}
				}
				fi.Hashes[k] = v
			}
		}
		p.Items = append(p.Items, fi)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode forward %s: %w", n.Ref, err)
	}
	return b, nil
}
