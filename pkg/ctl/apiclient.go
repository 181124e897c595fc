package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponseBytes bounds what we read of one API answer; a page of 1,000
// cases with timelines stays far below it.
const maxResponseBytes = 64 << 20

// apiClient calls the status API with a bearer token.
type apiClient struct {
	base        string
	token       string
	tokenSource string
	http        *http.Client
	timeout     time.Duration
}

// apiError is a non-2xx answer from the API.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("status %d", e.Status)
	}
	return fmt.Sprintf("%s (status %d)", e.Msg, e.Status)
}

func (c *cli) apiClient() (*apiClient, error) {
	token, source, err := c.conn.apiToken()
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(c.conn.api, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if _, err := url.Parse(base); err != nil {
		return nil, usagef("-api %q: %w", c.conn.api, err)
	}
	hc := c.env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &apiClient{base: base, token: token, tokenSource: source, http: hc, timeout: c.conn.timeout}, nil
}

// get calls GET path?query and decodes the answer into out (if not nil).
// It returns the raw body too, for -json output. The error carries the
// exit code: 3 for 404, 4 for 401/403, 2 for 400, 1 otherwise.
func (a *apiClient) get(ctx context.Context, path string, query url.Values, out any) ([]byte, error) {
	return a.do(ctx, http.MethodGet, path, query, out)
}

// post calls POST path with a JSON body (nil: none) and decodes the
// answer like get.
func (a *apiClient) post(ctx context.Context, path string, body any, out any) ([]byte, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode request for %s: %w", path, err)
		}
	}
	return a.send(ctx, http.MethodPost, path, nil, b, out)
}

func (a *apiClient) do(ctx context.Context, method, path string, query url.Values, out any) ([]byte, error) {
	return a.send(ctx, method, path, query, nil, out)
}

func (a *apiClient) send(ctx context.Context, method, path string, query url.Values, reqBody []byte, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	u := a.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(reqBody))
	if err != nil {
		return nil, usagef("build request for %s: %w", path, err)
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the API at %s (-api, %s; is takedownd running?): %w", a.base, EnvAPI, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return nil, a.statusError(method+" "+path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("decode answer of %s: %w", path, err)
		}
	}
	return body, nil
}

// statusError turns an API error answer into an error with the exit
// code; call names the request ("GET /v1/cases").
func (a *apiClient) statusError(call string, status int, body []byte) error {
	var eb struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &eb)
	ae := &apiError{Status: status, Msg: eb.Error}
	switch {
	case status == http.StatusUnauthorized:
		return withCode(ExitUnauthorized, fmt.Errorf("the API refused the token from %s: %w", a.tokenSource, ae))
	case status == http.StatusForbidden:
		return withCode(ExitUnauthorized, fmt.Errorf("the token from %s may not call %s: %w", a.tokenSource, call, ae))
	case status == http.StatusNotFound:
		return withCode(ExitNotFound, fmt.Errorf("%s: %w", call, ae))
	case status == http.StatusBadRequest:
		return withCode(ExitUsage, fmt.Errorf("the API rejected the request: %w", ae))
	case status == http.StatusConflict:
		return withCode(ExitRefused, fmt.Errorf("refused: %w", ae))
	}
	return withCode(ExitError, fmt.Errorf("%s: %w", call, ae))
}

// notFound rewrites a 404 into a message naming what was looked for, and
// leaves every other error as it is.
func notFound(err error, format string, args ...any) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return withCode(ExitNotFound, fmt.Errorf(format, args...))
	}
	return err
}
