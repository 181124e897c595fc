package rdap

import (
	"context"
	"embed"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openrdap/rdap/bootstrap"
)

// embedded holds the IANA bootstrap files the binary ships with, so lookups
// work before (or without) a refresh from IANA.
//
//go:embed bootstrap/*.json
var embedded embed.FS

// registries is one consistent set of parsed bootstrap files.
type registries struct {
	v4, v6 *bootstrap.NetRegistry
	dns    *bootstrap.DNSRegistry
	asn    *bootstrap.ASNRegistry
}

// bootstrapFiles are the IANA file names, which are also the names of the
// embedded copies.
var bootstrapFiles = []string{"ipv4.json", "ipv6.json", "dns.json", "asn.json"}

func parseRegistries(files map[string][]byte) (*registries, error) {
	v4, err := bootstrap.NewNetRegistry(files["ipv4.json"], 4)
	if err != nil {
		return nil, fmt.Errorf("parse ipv4 bootstrap: %w", err)
	}
	v6, err := bootstrap.NewNetRegistry(files["ipv6.json"], 6)
	if err != nil {
		return nil, fmt.Errorf("parse ipv6 bootstrap: %w", err)
	}
	dns, err := bootstrap.NewDNSRegistry(files["dns.json"])
	if err != nil {
		return nil, fmt.Errorf("parse dns bootstrap: %w", err)
	}
	asn, err := bootstrap.NewASNRegistry(files["asn.json"])
	if err != nil {
		return nil, fmt.Errorf("parse asn bootstrap: %w", err)
	}
	return &registries{v4: v4, v6: v6, dns: dns, asn: asn}, nil
}

func embeddedRegistries() (*registries, error) {
	files := make(map[string][]byte, len(bootstrapFiles))
	for _, name := range bootstrapFiles {
		body, err := embedded.ReadFile("bootstrap/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded bootstrap: %w", err)
		}
		files[name] = body
	}
	return parseRegistries(files)
}

// pickURL prefers https among the servers the bootstrap lists.
func pickURL(urls []*url.URL) string {
	for _, u := range urls {
		if u.Scheme == "https" {
			return u.String()
		}
	}
	if len(urls) > 0 {
		return urls[0].String()
	}
	return ""
}

// baseForIP returns the RDAP base URL responsible for addr.
func (c *Client) baseForIP(ip string, is4 bool) (string, error) {
	regs := c.regs.Load()
	reg, typ := regs.v6, bootstrap.IPv6
	if is4 {
		reg, typ = regs.v4, bootstrap.IPv4
	}
	ans, err := reg.Lookup(&bootstrap.Question{RegistryType: typ, Query: ip})
	if err != nil {
		return "", fmt.Errorf("bootstrap ip: %w", err)
	}
	if base := pickURL(ans.URLs); base != "" {
		return base, nil
	}
	return "", fmt.Errorf("bootstrap ip: %w", ErrNotFound)
}

// baseForASN returns the RDAP base URL of the registry that assigned asn.
func (c *Client) baseForASN(asn uint32) (string, error) {
	ans, err := c.regs.Load().asn.Lookup(&bootstrap.Question{RegistryType: bootstrap.ASN, Query: strconv.FormatUint(uint64(asn), 10)})
	if err != nil {
		return "", fmt.Errorf("bootstrap asn: %w", err)
	}
	if base := pickURL(ans.URLs); base != "" {
		return base, nil
	}
	return "", fmt.Errorf("bootstrap asn: %w", ErrNotFound)
}

// baseForDomain returns the RDAP base URL of the domain's registry; the
// configured TLD table wins over the bootstrap, longest suffix first.
func (c *Client) baseForDomain(name string) (string, error) {
	for suffix := name; suffix != ""; {
		if base, ok := c.cfg.TLDServers[suffix]; ok {
			return base, nil
		}
		_, rest, ok := strings.Cut(suffix, ".")
		if !ok {
			break
		}
		suffix = rest
	}
	ans, err := c.regs.Load().dns.Lookup(&bootstrap.Question{RegistryType: bootstrap.DNS, Query: name})
	if err != nil {
		return "", fmt.Errorf("bootstrap domain: %w", err)
	}
	if base := pickURL(ans.URLs); base != "" {
		return base, nil
	}
	return "", fmt.Errorf("bootstrap domain: %w", ErrNotFound)
}

// Run refreshes the bootstrap files from Config.BootstrapURL every
// Config.BootstrapRefresh until ctx ends. A failed refresh keeps the files
// in use and is logged. When no URL is configured, Run just waits for ctx,
// so it can run beside the other parts of the daemon either way.
func (c *Client) Run(ctx context.Context) error {
	if c.cfg.BootstrapURL == "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(c.cfg.BootstrapRefresh)
	defer t.Stop()
	for {
		if err := c.RefreshBootstrap(ctx); err != nil {
			c.log.Warn("rdap bootstrap refresh", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RefreshBootstrap downloads the bootstrap files once and swaps them in
// when all of them parse.
func (c *Client) RefreshBootstrap(ctx context.Context) error {
	files := make(map[string][]byte, len(bootstrapFiles))
	for _, name := range bootstrapFiles {
		body, err := c.download(ctx, strings.TrimSuffix(c.cfg.BootstrapURL, "/")+"/"+name)
		if err != nil {
			return fmt.Errorf("refresh bootstrap %s: %w", name, err)
		}
		files[name] = body
	}
	regs, err := parseRegistries(files)
	if err != nil {
		return fmt.Errorf("refresh bootstrap: %w", err)
	}
	c.regs.Store(regs)
	c.log.Info("rdap bootstrap refreshed")
	return nil
}

func (c *Client) download(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}
