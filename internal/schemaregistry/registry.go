// Package schemaregistry registers Avro schemas in a Confluent-compatible Schema
// Registry and caches their ids.
package schemaregistry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riferrei/srclient"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Options configure a Client.
type Options struct {
	URL                string
	Username, Password string
	TLS                *tls.Config
	// Timeout bounds one HTTP request (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
	// Health receives the registry's reachability (nil: not reported).
	Health cdc.Health
}

// Client registers schemas under subjects and remembers the ids it got.
type Client struct {
	sr     *srclient.SchemaRegistryClient
	url    string
	log    *slog.Logger
	health cdc.Health

	mu  sync.Mutex
	ids map[string]int32 // subject + "\x00" + schema -> id
}

// New returns a Client; it does not contact the registry.
func New(opts Options) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("schema_registry.url is not set: give the registry's URL, e.g. http://127.0.0.1:8081")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Health == nil {
		opts.Health = cdc.NoHealth{}
	}
	sr := srclient.NewSchemaRegistryClient(opts.URL, srclient.WithClient(newHTTPClient(opts)))
	sr.CodecCreationEnabled(false)
	if opts.Username != "" {
		sr.SetCredentials(opts.Username, opts.Password)
	}
	return &Client{sr: sr, url: opts.URL, log: opts.Logger, health: opts.Health, ids: map[string]int32{}}, nil
}

// Register registers schema under subject (or finds it registered) and
// returns its id. Transient failures (registry unreachable, 5xx) are retried
// with capped exponential backoff until ctx is done; rejections return a
// *cdc.PermanentError.
func (c *Client) Register(ctx context.Context, subject, schema string) (int32, error) {
	key := subject + "\x00" + schema
	c.mu.Lock()
	id, ok := c.ids[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	backoff := 100 * time.Millisecond
	for {
		s, err := c.sr.CreateSchema(subject, schema, srclient.Avro)
		if err == nil {
			c.health.Up(cdc.ComponentRegistry)
			id = int32(s.ID())
			c.mu.Lock()
			c.ids[key] = id
			c.mu.Unlock()
			return id, nil
		}
		if perr := permanent(subject, err); perr != nil {
			c.health.Up(cdc.ComponentRegistry) // it answered
			return 0, perr
		}
		c.health.Down(cdc.ComponentRegistry, err)
		c.log.Warn("schema registry unavailable, retrying", "url", c.url, "subject", subject, cdc.LogError, err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("register %q at %s: %w (last error: %v)", subject, c.url, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func rejected(subject string, err error) error {
	return fmt.Errorf("schema registry rejected subject %q: %w", subject, err)
}

// permanent classifies err: nil when retrying may help.
func permanent(subject string, err error) error {
	var se srclient.Error
	if !errors.As(err, &se) {
		code, ok := statusOnly(err) // a non-JSON error body, e.g. from a proxy in front of the registry
		if !ok || code == 408 || code == 429 || code >= 500 {
			return nil // a network error, or worth retrying
		}
		se.Code = code
	}
	switch {
	case se.Code == 409 || se.Code == 42201 || se.Code == 422:
		return &cdc.PermanentError{Err: rejected(subject, err),
			Fix: "the new schema is not compatible with the subject's compatibility level: set the subject's compatibility to BACKWARD or NONE, or move the table to a new topic prefix"}
	case se.Code == 401 || se.Code == 403 || se.Code == 40101 || se.Code == 40301:
		return &cdc.PermanentError{Err: rejected(subject, err),
			Fix: "check schema_registry.username/password and the user's write permission on the subject"}
	case se.Code >= 400 && se.Code < 500, se.Code >= 40000 && se.Code < 50000:
		return &cdc.PermanentError{Err: rejected(subject, err), Fix: "the registry refused the request"}
	}
	return nil
}

// statusOnly reads the HTTP status of an error srclient made from a
// response without a JSON body ("401 Unauthorized").
func statusOnly(err error) (int, bool) {
	var code int
	var text string
	if n, _ := fmt.Sscanf(err.Error(), "%3d %s", &code, &text); n != 2 || code < 100 || code > 599 {
		return 0, false
	}
	return code, true
}

// Schema returns the schema registered under id. Transient failures are
// retried like Register's until ctx is done; an id the registry does not
// know, or a refusal, is a *cdc.PermanentError.
func (c *Client) Schema(ctx context.Context, id int) (string, error) {
	backoff := 100 * time.Millisecond
	for {
		s, err := c.sr.GetSchema(id)
		if err == nil {
			c.health.Up(cdc.ComponentRegistry)
			return s.Schema(), nil
		}
		subject := fmt.Sprintf("schema id %d", id)
		if perr := permanent(subject, err); perr != nil {
			c.health.Up(cdc.ComponentRegistry)
			var pe *cdc.PermanentError
			if errors.As(perr, &pe) && (strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "40403")) {
				pe.Fix = "the record names a schema id the registry at " + c.url + " does not hold: point schema_registry.url at the registry the stream writes to"
			}
			return "", perr
		}
		c.health.Down(cdc.ComponentRegistry, err)
		c.log.Warn("schema registry unavailable, retrying", "url", c.url, "id", id, cdc.LogError, err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("get schema id %d at %s: %w (last error: %v)", id, c.url, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
