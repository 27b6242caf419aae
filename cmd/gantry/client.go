package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"gantry.dev/gantry/serve/admin"
)

// The client half of the REST API, shared by gantry deploy, status, config
// and shutdown.

const (
	defaultAddress = "http://127.0.0.1:8265"
	// addressEnv overrides the default --address.
	addressEnv = "GANTRY_ADDRESS"
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	address string
	token   string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	addr := os.Getenv(addressEnv)
	if addr == "" {
		addr = defaultAddress
	}
	fs.StringVar(&c.address, "address", addr, "the gateway's REST API (env "+addressEnv+")")
	fs.StringVar(&c.token, "admin-token", os.Getenv(admin.AdminTokenEnv),
		"the gateway's admin token, sent as Authorization: Bearer (env "+admin.AdminTokenEnv+")")
}

// apiClient talks to one gateway's REST API.
type apiClient struct {
	base  string // http://host:port, no trailing slash
	token string
	hc    *http.Client
}

func newAPIClient(f clientFlags) (*apiClient, error) {
	base := strings.TrimRight(strings.TrimSpace(f.address), "/")
	if base == "" {
		return nil, usageError{"--address must not be empty"}
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, usageError{fmt.Sprintf("--address must be an http:// or https:// URL, got %q", f.address)}
	}
	return &apiClient{base: base, token: f.token, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// apiError is an answer other than the one expected.
type apiError struct {
	method, url string
	code        int
	body        string
}

func (e *apiError) Error() string {
	body := strings.TrimRight(e.body, "\n")
	if body == "" {
		body = http.StatusText(e.code)
	}
	return fmt.Sprintf("%s %s: %d: %s", e.method, e.url, e.code, body)
}

// do sends one request and returns the answer's status and body.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, c.base+path, err)
	}
	return resp.StatusCode, b, nil
}

// noGatewayError says that nothing answers at the address.
type noGatewayError struct{ msg string }

func (e *noGatewayError) Error() string { return e.msg }

// unreachable explains a request that got no answer.
func (c *apiClient) unreachable(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &noGatewayError{fmt.Sprintf("no Gantry at %s: is `gantry serve` running?", c.base)}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &noGatewayError{fmt.Sprintf("no Gantry at %s: %v", c.base, dnsErr)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("no answer from Gantry at %s: %w", c.base, err)
}

// view fetches Gantry's view of the applications.
func (c *apiClient) view(ctx context.Context) (*admin.GantryInstance, error) {
	const path = "/api/gantry/applications"
	code, body, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, &apiError{http.MethodGet, c.base + path, code, string(body)}
	}
	var v admin.GantryInstance
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("GET %s: not Gantry's answer: %w", c.base+path, err)
	}
	return &v, nil
}

// put applies a config (the whole document).
func (c *apiClient) put(ctx context.Context, config []byte) error {
	return c.expectOK(ctx, http.MethodPut, "/api/serve/applications/", config)
}

// deleteAll deletes every application.
func (c *apiClient) deleteAll(ctx context.Context) error {
	return c.expectOK(ctx, http.MethodDelete, "/api/serve/applications/", nil)
}

func (c *apiClient) expectOK(ctx context.Context, method, path string, body []byte) error {
	code, answer, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return &apiError{method, c.base + path, code, string(answer)}
	}
	return nil
}
