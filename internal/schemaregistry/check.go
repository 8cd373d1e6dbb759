package schemaregistry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// StatusError is an HTTP answer of the registry other than 2xx.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Message is the registry's error message, or the start of the body.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Ping asks the registry at opts.URL for its subjects (GET /subjects), with
// the credentials, TLS and timeout a Client uses, and returns how many it
// holds. A non-2xx answer is a *StatusError.
func Ping(ctx context.Context, opts Options) (subjects int, err error) {
	if opts.URL == "" {
		return 0, fmt.Errorf("schema_registry.url is not set: give the registry's URL, e.g. http://127.0.0.1:8081")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(opts.URL, "/")+"/subjects", nil)
	if err != nil {
		return 0, fmt.Errorf("schema registry: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if opts.Username != "" {
		req.SetBasicAuth(opts.Username, opts.Password)
	}
	resp, err := newHTTPClient(opts).Do(req)
	if err != nil {
		return 0, fmt.Errorf("schema registry unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("schema registry: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, &StatusError{Code: resp.StatusCode, Message: errorMessage(body)}
	}
	var list []string
	if err := json.Unmarshal(body, &list); err != nil {
		return 0, fmt.Errorf("schema registry: GET /subjects answered %q, not a list of subjects: is schema_registry.url a Schema Registry?",
			string(body[:min(len(body), 80)]))
	}
	return len(list), nil
}

// newHTTPClient is the HTTP client a Client with opts uses.
func newHTTPClient(opts Options) *http.Client {
	hc := &http.Client{Timeout: opts.Timeout}
	if opts.TLS != nil {
		hc.Transport = &http.Transport{TLSClientConfig: opts.TLS}
	}
	return hc
}

// errorMessage extracts a Confluent error's message, or the start of body.
func errorMessage(body []byte) string {
	var doc struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Message != "" {
		return doc.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
