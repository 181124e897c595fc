package ctl

// usageText is the whole manual of takedownctl. Keep it in step with the
// flags: a test checks that every flag of every command is mentioned.
const usageText = `takedownctl — command-line client of takedownd

Usage:
  takedownctl [connection flags] COMMAND [flags] [arguments]

Commands:
  submit URL... [report flags]     publish a v1 report for each URL
  submit -f FILE [report flags]    publish the reports in FILE ('-' = stdin): one URL
                                   per line, or one full JSON report per line;
                                   blank lines and lines starting with # are skipped
  show CASE_ID [-json]             a case: state, enrichment, routing, notices, timeline
  show -url URL [-json]            the open case of a URL (normalised as intake does)
  list [-state S] [-since T] [-until T] [-limit N] [-cursor ID] [-all] [-urls] [-json]
                                   cases received in a time range, oldest first;
                                   prints the host of each case, or its URL with -urls
  review [-urls] [-json]           the review queue: cases nobody could be told about
                                   (the same as list -state review -all)
  tokens [-json]                   the API's tokens: names, roles, bindings (admin token)
  contacts [-json]                 the contacts remembered for hosters (add-contact -remember)
  contacts forget KEY              forget one (analyst or admin token)

Actions on a case (POST /v1/cases/{id}/actions; analyst or admin token, except
where a partner or hoster token may), each recorded on the case's timeline with
the token's name; each prints CASE_ID, the state after it and what it queued,
or with -json the API's answer:
  check CASE_ID [-note T]          an immediate re-check; the result appears on the
                                   case's timeline
  enrich CASE_ID [-note T]         look the host up again (DNS, RDAP, GeoIP, CDN);
                                   routing follows
  route CASE_ID -contact EMAIL [-name N] [-lang L] [-reason T]
  route CASE_ID -partner CC [-reason T]
                                   tell this contact (as the hoster), or forward to the
                                   partner hotline of CC, instead of what routing decided
  add-contact CASE_ID -contact EMAIL [-name N] [-lang L] [-remember domain|network|asn] [-note T]
                                   add a contact in front of the ones found; with
                                   -remember also for later cases of the hoster
                                   (the runtime contact book); a case in review is
                                   routed again at once
  removed CASE_ID [-note T]        report that the material is gone: recorded, and a
                                   check asked for; only re-checks confirm a removal
                                   (a hoster token may, on its own cases)
  pause CASE_ID -until T -reason T hold first notices, reminders and escalations until
                                   T (RFC 3339, or a duration: 48h); re-checks go on
  resume CASE_ID [-reason T]       release them now
  close CASE_ID -as not_actionable -reason T
  close CASE_ID -as duplicate -duplicate-of ID -reason T
                                   close the case; a new report of the URL opens a new one
  partner-status CASE_ID -status removed|in_progress|not_illegal [-note T]
                                   what the partner hotline reports (a partner token may,
                                   on the cases forwarded to it); not_illegal puts the
                                   case in the review queue
  dlq list [-after SEQ] [-limit N] [-all] [-json]
                                   rejected messages, with the reason
  dlq show SEQ [-json]             one rejected message: reason, headers, payload
  dlq resubmit SEQ [-f FILE | -edit]
                                   validate and publish the corrected report from FILE
                                   ('-' = stdin) or from $VISUAL/$EDITOR; without
                                   either, publish the original payload again
  help                             this text

Report flags (submit):
  -classification C   baseline, A1, A2, B1 or B2 (required when submitting URLs)
  -priority P         normal (default) or high
  -media-type M       image, video, audio, text or mixed
  -sha256 HEX, -md5 HEX, -sha1 HEX
                      hashes of the confirmed content
  -analyst ID         pseudonymous analyst id
  -source S           where the report came from (public, partner, crawler …)
  -partner-ref REF    reference at the partner hotline that sent it
  -report-id ID       report id, only with a single URL (default: generated,
                      ctl-<time><random>, sortable and unique)
  -confirmed-at T     RFC 3339 confirmation time (default: now)
  JSON lines in a file are sent as they are; the report flags apply to URL lines.
  Every report is checked locally first; if any is invalid, each problem is
  printed with its line and nothing is published. Each report is published
  with the header Nats-Msg-Id = report_id and the stream's acknowledgement
  awaited; the output is one line per report: REPORT_ID<TAB>published, or
  REPORT_ID<TAB>duplicate when the stream already had that report id.

List flags:
  -state S            received, enriched, unresolvable, not_actionable, review,
                      routed, noticed, forwarded, removed or closed
  -since T, -until T  received at or after / before T (RFC 3339 or YYYY-MM-DD)
  -limit N            cases (dead letters) per page; default the server's page size
  -cursor ID          start after this case id (printed when more cases follow)
  -after SEQ          dlq list: start after this dead-letter sequence
  -all                follow every page
  -urls               print URLs instead of hosts
  -json               print the API's JSON

Resubmitting: the corrected report is checked locally and published to the
subject the message was first sent to (or -subject when given), with
Nats-Msg-Id = its report_id. When the stream drops it as a duplicate because
the rejected message carried that same msg id (JetStream remembers ids for
its duplicate window, 24 h by default), it is published again without the
header; takedownd still records each report_id once.

Connection flags (before or after the command), each with its variable:
  -api URL            status API (TAKEDOWN_API; default http://127.0.0.1:8080)
  -nats URL           NATS server(s), comma-separated (TAKEDOWN_NATS;
                      default nats://127.0.0.1:4222)
  -nats-nkey FILE     NATS nkey seed file (TAKEDOWN_NATS_NKEY; default
                      DIR/nats-takedownctl.nk, which the daemon writes at first start)
  -nats-creds FILE    NATS credentials file (TAKEDOWN_NATS_CREDS)
  -nats-ca FILE       CA to verify a TLS NATS server (TAKEDOWN_NATS_CA)
  -subject S          report subject (TAKEDOWN_SUBJECT; default takedown.reports)
  -token T            API bearer token (TAKEDOWN_TOKEN)
  -token-file FILE    file holding the API token (TAKEDOWN_TOKEN_FILE)
  -data DIR           the daemon's data dir (TAKEDOWN_DATA; default data)
  -timeout D          deadline of each API call or publish (default 10s)
  A flag beats its variable. The API token is taken from the first of:
  -token, -token-file, TAKEDOWN_TOKEN, TAKEDOWN_TOKEN_FILE, DIR/api-token
  (the file the daemon writes at first start when its config names no token).
  show, list and review need any token (each sees its scope), dlq and the actions an
  analyst or admin token, tokens an admin token; submit
  talks to NATS only and needs no API token, but a NATS key: the daemon's
  embedded NATS lets in only clients with one, and takedownctl's may publish
  reports only (to the daemon's intake.subject).

Exit codes:
  0  ok
  1  runtime error: API or NATS unreachable, server error (5xx), publish failed
  2  usage error: bad flags or arguments, invalid report (nothing published)
  3  not found: unknown case, URL or dead letter
  4  unauthorized: the API refused the token (401/403), or no token was found;
     NATS refused the credentials, or a publish to the subject
  5  refused: the action does not fit the case as it stands (the API's 409, with
     the case's state)
`
