// Package registry registers Avro schemas in a Confluent-compatible Schema
// Registry and caches their ids.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/riferrei/srclient"
)

// Options configure a Client.
type Options struct {
	URL                string
	Username, Password string
	TLS                *tls.Config
	// Timeout bounds one HTTP request (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Client registers schemas under subjects and remembers the ids it got.
type Client struct {
	sr  *srclient.SchemaRegistryClient
	url string
	log *slog.Logger

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
	hc := &http.Client{Timeout: opts.Timeout}
	if opts.TLS != nil {
		hc.Transport = &http.Transport{TLSClientConfig: opts.TLS}
	}
	sr := srclient.NewSchemaRegistryClient(opts.URL, srclient.WithClient(hc))
	sr.CodecCreationEnabled(false)
	if opts.Username != "" {
		sr.SetCredentials(opts.Username, opts.Password)
	}
	return &Client{sr: sr, url: opts.URL, log: opts.Logger, ids: map[string]int32{}}, nil
}

// PermanentError is a registry answer that retrying cannot change (an
// incompatible schema, bad credentials).
type PermanentError struct {
	Subject string
	Err     error
	Fix     string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("schema registry rejected subject %q: %v; %s", e.Subject, e.Err, e.Fix)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Register registers schema under subject (or finds it registered) and
// returns its id. Transient failures (registry unreachable, 5xx) are retried
// with capped exponential backoff until ctx is done; rejections return a
// *PermanentError.
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
			id = int32(s.ID())
			c.mu.Lock()
			c.ids[key] = id
			c.mu.Unlock()
			return id, nil
		}
		if perr := permanent(subject, err); perr != nil {
			return 0, perr
		}
		c.log.Warn("schema registry unavailable, retrying", "url", c.url, "subject", subject, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("register %q at %s: %w (last error: %v)", subject, c.url, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// permanent classifies err: nil when retrying may help.
func permanent(subject string, err error) error {
	var se srclient.Error
	if !errors.As(err, &se) {
		return nil // network error
	}
	switch {
	case se.Code == 409 || se.Code == 42201 || se.Code == 422:
		return &PermanentError{Subject: subject, Err: err,
			Fix: "the new schema is not compatible with the subject's compatibility level: set the subject's compatibility to BACKWARD or NONE, or move the table to a new topic prefix"}
	case se.Code == 401 || se.Code == 403 || se.Code == 40101 || se.Code == 40301:
		return &PermanentError{Subject: subject, Err: err,
			Fix: "check schema_registry.username/password and the user's write permission on the subject"}
	case se.Code >= 400 && se.Code < 500, se.Code >= 40000 && se.Code < 50000:
		return &PermanentError{Subject: subject, Err: err, Fix: "the registry refused the request"}
	}
	return nil
}
