package ctl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/takedownd/takedownd/pkg/actions"
	"github.com/takedownd/takedownd/pkg/api"
	"github.com/takedownd/takedownd/pkg/enrich/contactbook/kvbook"
	"github.com/takedownd/takedownd/pkg/takedown"
)

// actionVerb is a command that takes an action on a case: the action and
// the flags it takes, each a field of the request.
type actionVerb struct {
	action string
	flags  []string
	// done says what follows, after the case id.
	done string
}

// actionVerbs are the commands that POST /v1/cases/{id}/actions.
var actionVerbs = map[string]actionVerb{
	"check":          {takedown.ActionCheck, []string{"note"}, "check requested; the result appears in: takedownctl show %s"},
	"enrich":         {takedown.ActionRetryEnrich, []string{"note"}, "enrichment asked for; routing follows"},
	"route":          {takedown.ActionRoute, []string{"contact", "name", "lang", "partner", "reason"}, "routing asked for"},
	"add-contact":    {takedown.ActionAddContact, []string{"contact", "name", "lang", "remember", "note"}, "contact added"},
	"removed":        {takedown.ActionMarkRemoved, []string{"note"}, "removal reported; it counts once re-checks confirm it"},
	"pause":          {takedown.ActionPause, []string{"until", "reason"}, "notices paused"},
	"resume":         {takedown.ActionResume, []string{"reason"}, "notices resumed"},
	"close":          {takedown.ActionClose, []string{"as", "duplicate-of", "reason"}, "closed"},
	"partner-status": {takedown.ActionPartnerStatus, []string{"status", "note"}, "status recorded"},
}

func verbList() string {
	verbs := make([]string, 0, len(actionVerbs))
	for v := range actionVerbs {
		verbs = append(verbs, v)
	}
	slices.Sort(verbs)
	return strings.Join(verbs, ", ")
}

// flagHelp says what each action flag is.
var flagHelp = map[string]string{
	"note":         "free text recorded with the action",
	"reason":       "why (required to pause and to close)",
	"contact":      "abuse e-mail address",
	"name":         "the contact's name",
	"lang":         "the language the contact reads (nl, en, …)",
	"partner":      "country code of the partner hotline (route.partners_file)",
	"remember":     "keep the contact for the case's hoster by domain, network or asn",
	"until":        "end of the pause: RFC 3339 time, or a duration such as 48h",
	"as":           "not_actionable or duplicate",
	"duplicate-of": "the case this one duplicates",
	"status":       "removed, in_progress or not_illegal",
}

// runAction is every action verb: args[0] is the verb.
func runAction(ctx context.Context, c *cli, args []string) error {
	verb := actionVerbs[args[0]]
	fs := c.flagSet(args[0])
	vals := map[string]*string{}
	for _, f := range verb.flags {
		vals[f] = fs.String(f, "", flagHelp[f])
	}
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	pos, err := parse(fs, args[1:], c.env.Stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s needs one CASE_ID", args[0])
	}
	req := actions.Request{Action: verb.action}
	get := func(name string) string {
		if v, ok := vals[name]; ok {
			return *v
		}
		return ""
	}
	req.Note, req.Reason, req.Partner, req.Remember = get("note"), get("reason"), get("partner"), get("remember")
	req.Until, req.As, req.DuplicateOf, req.Status = get("until"), get("as"), strings.ToUpper(get("duplicate-of")), get("status")
	if email := get("contact"); email != "" {
		req.Contact = &actions.Contact{Email: email, Name: get("name"), Language: get("lang")}
	} else if get("name") != "" || get("lang") != "" {
		return usagef("%s: -name and -lang go with -contact", args[0])
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	id := strings.ToUpper(pos[0])
	var ans api.ActionAnswer
	raw, err := client.post(ctx, "/v1/cases/"+url.PathEscape(id)+"/actions", req, &ans)
	if err != nil {
		return notFound(err, "case %s not found", id)
	}
	if *asJSON {
		return writeRaw(c.env.Stdout, raw)
	}
	done := verb.done
	if strings.Contains(done, "%s") {
		done = fmt.Sprintf(done, id)
	}
	line := fmt.Sprintf("%s\t%s\t%s", id, ans.State, done)
	if len(ans.Work) > 0 {
		line += " (queued: " + strings.Join(ans.Work, ", ") + ")"
	}
	if ans.Note != "" {
		line += "; " + ans.Note
	}
	fmt.Fprintln(c.env.Stdout, line)
	return nil
}

// runTokens lists the API's tokens (an admin token): names, roles and
// what partner and hoster tokens are bound to.
func runTokens(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("tokens")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	if _, err := parse(fs, args, c.env.Stderr); err != nil {
		return err
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	var out struct {
		Tokens []struct {
			Name    string `json:"name"`
			Role    string `json:"role"`
			Partner *struct {
				Country string `json:"country"`
				Name    string `json:"name"`
			} `json:"partner"`
			Domains []string `json:"domains"`
			ASNs    []uint   `json:"asns"`
		} `json:"tokens"`
	}
	raw, err := client.get(ctx, "/v1/tokens", nil, &out)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeRaw(c.env.Stdout, raw)
	}
	for _, t := range out.Tokens {
		bound := ""
		if t.Partner != nil {
			bound = t.Partner.Country + " (" + t.Partner.Name + ")"
		}
		for _, d := range t.Domains {
			bound += " " + d
		}
		for _, a := range t.ASNs {
			bound += fmt.Sprintf(" AS%d", a)
		}
		fmt.Fprintf(c.env.Stdout, "%s\t%s\t%s\n", t.Name, t.Role, strings.TrimSpace(bound))
	}
	return nil
}

// runContacts lists the contacts remembered for hosters, or forgets one
// (contacts forget KEY).
func runContacts(ctx context.Context, c *cli, args []string) error {
	fs := c.flagSet("contacts")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	pos, err := parse(fs, args, c.env.Stderr)
	if err != nil {
		return err
	}
	client, err := c.apiClient()
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 2 && pos[0] == "forget":
		if _, err := client.send(ctx, http.MethodDelete, "/v1/contacts/"+url.PathEscape(pos[1]), nil, nil, nil); err != nil {
			return notFound(err, "no remembered contact %s", pos[1])
		}
		fmt.Fprintf(c.env.Stdout, "%s\tforgotten\n", pos[1])
		return nil
	case len(pos) != 0:
		return usagef("contacts takes no argument, or: forget KEY")
	}
	var out struct {
		Contacts []kvbook.Record `json:"contacts"`
	}
	raw, err := client.get(ctx, "/v1/contacts", nil, &out)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeRaw(c.env.Stdout, raw)
	}
	for _, r := range out.Contacts {
		fmt.Fprintf(c.env.Stdout, "%s\t%s\t%s %s\t%s\n", r.Key(), strings.Join(r.Emails, ","), r.By, stamp(r.At), r.Note)
	}
	return nil
}
