package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/ops/admin"
)

// SnapshotOptions are the parts of `fluxo snapshot` besides the config.
type SnapshotOptions struct {
	// Tables are the schema.table names to snapshot.
	Tables []string
	// Wait follows the snapshot until none of Tables is left to read.
	Wait bool
	// Out receives the request's id and, with Wait, the progress.
	Out io.Writer
	// Poll is how often Wait asks for progress (default 1s).
	Poll time.Duration
}

// Snapshot runs `fluxo snapshot`: it asks the running `fluxo stream` of
// cfg, through its HTTP endpoint, to snapshot o.Tables incrementally while
// it streams, and with o.Wait follows the snapshot to its end.
func Snapshot(ctx context.Context, cfg *config.Config, o SnapshotOptions, log *slog.Logger) error {
	if len(o.Tables) == 0 {
		return errors.New("--tables: name the tables to snapshot (schema.table, comma separated)")
	}
	token, err := cfg.HTTP.AdminToken()
	if err != nil {
		return err
	}
	c := adminClient{base: cfg.HTTP.AdminURL(), token: token, http: &http.Client{Timeout: 10 * time.Second}}
	var acc admin.SnapshotAccepted
	if err := c.do(ctx, http.MethodPost, admin.SnapshotRequest{Tables: o.Tables}, &acc); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "snapshot requested: id %s, tables %s\n", acc.ID, strings.Join(acc.Tables, ", "))
	if !o.Wait {
		return nil
	}
	return c.wait(ctx, o, log)
}

// adminClient talks to a stream's admin endpoint.
type adminClient struct {
	base, token string
	http        *http.Client
}

// do sends a request to /snapshot and decodes the answer into out.
func (c adminClient) do(ctx context.Context, method string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/snapshot", body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("no fluxo stream answers at %s (http.listen): start `fluxo stream` with this config first: %w", c.base, err)
	}
	if err != nil {
		return fmt.Errorf("%s %s/snapshot: %w", method, c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("the stream at %s refused the request (%s): %s", c.base, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// wait polls the stream's snapshot queue until none of o.Tables is in it,
// printing the progress of the table being read as it changes. A stream
// that does not answer (restarting) is waited for.
func (c adminClient) wait(ctx context.Context, o SnapshotOptions, log *slog.Logger) error {
	poll := o.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	last := ""
	for {
		var st admin.SnapshotStatus
		if err := c.do(ctx, http.MethodGet, nil, &st); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn("waiting for the stream to answer", "error", err.Error())
		} else {
			left := requestedLeft(st.Tables, o.Tables)
			if len(left) == 0 {
				fmt.Fprintf(o.Out, "snapshot complete: %s\n", strings.Join(o.Tables, ", "))
				return nil
			}
			if line := progressLine(left); line != last {
				fmt.Fprintln(o.Out, line)
				last = line
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// requestedLeft are the reports of the requested tables still queued.
func requestedLeft(queue []incremental.TableReport, requested []string) []incremental.TableReport {
	var out []incremental.TableReport
	for _, r := range queue {
		if slices.Contains(requested, r.Table) {
			out = append(out, r)
		}
	}
	return out
}

// progressLine says where the requested snapshot is.
func progressLine(left []incremental.TableReport) string {
	var parts []string
	for _, r := range left {
		switch {
		case !r.Reading:
			parts = append(parts, r.Table+": queued")
		case r.Estimate > 0:
			parts = append(parts, fmt.Sprintf("%s: %d of about %d rows (%d chunks)", r.Table, r.RowsDone, r.Estimate, r.Chunks))
		default:
			parts = append(parts, fmt.Sprintf("%s: %d rows (%d chunks)", r.Table, r.RowsDone, r.Chunks))
		}
	}
	return "snapshot: " + strings.Join(parts, "; ")
}
