package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/takedownd/takedownd/pkg/broker"
)

// The embedded NATS lets in only the daemon's roles. The analyst's key
// turns a report into a case, and reads nothing back: not the case
// bucket, not the work queue, not a reply meant for the daemon.
func TestAnalystKeyPublishesReportsAndReadsNothing(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, testConfig(t.TempDir()))
	if nc, err := nats.Connect(d.natsURL); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect without credentials: err = %v, want an authorization violation", err)
	}

	u := "http://auth.example.nl/a.jpg"
	d.publish(report("auth-1", u), "auth-1") // through the analyst's key
	d.settle()
	v := d.caseByURL(u)
	if v.Case.ReportCount != 1 || v.Case.State == "" {
		t.Fatalf("case %+v, want the analyst's report in it", v.Case)
	}

	refused := make(chan error, 8)
	nc := d.connect(broker.RoleAnalyst, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			refused <- err
		}
	}))
	defer nc.Close()
	for _, try := range []struct {
		what, subject string
		do            func() error
	}{
		{"read the case", "$JS.API.DIRECT.GET.KV_takedown_cases.$KV.takedown_cases." + v.Case.ID, func() error {
			return nc.PublishRequest("$JS.API.DIRECT.GET.KV_takedown_cases.$KV.takedown_cases."+v.Case.ID, nats.NewInbox(), nil)
		}},
		{"look up the bucket", "$JS.API.STREAM.INFO.KV_takedown_cases", func() error {
			return nc.PublishRequest("$JS.API.STREAM.INFO.KV_takedown_cases", nats.NewInbox(), nil)
		}},
		{"watch the cases", "$KV.takedown_cases.>", func() error { _, err := nc.SubscribeSync("$KV.takedown_cases.>"); return err }},
		{"queue work", "takedown.work.enrich", func() error { return nc.Publish("takedown.work.enrich", []byte(v.Case.ID)) }},
		{"listen to the daemon's replies", broker.InboxPrefix + ".>", func() error { _, err := nc.SubscribeSync(broker.InboxPrefix + ".>"); return err }},
	} {
		if err := try.do(); err != nil {
			t.Fatalf("%s: %v", try.what, err)
		}
		select {
		case err := <-refused:
			if !strings.Contains(err.Error(), try.subject) {
				t.Errorf("%s: refusal %q does not name %s", try.what, err, try.subject)
			}
		case <-time.After(waitBound):
			t.Errorf("%s: the server let the analyst's key do it", try.what)
		}
	}
}
