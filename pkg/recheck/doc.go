// Package recheck probes every noticed or forwarded URL on a schedule until
// the material is gone, and for a while after, because the abuse only ends
// when the material is gone and stays gone. Each case has one pending check,
// kept as a JetStream message schedule; fired checks go to a durable
// consumer that every replica shares. Hosters that do not act get reminders
// and escalation, material that comes back reopens its case, and a hoster
// that moved sends the case back to enrichment.
package recheck
