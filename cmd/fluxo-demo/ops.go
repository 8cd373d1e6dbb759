package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// shownMetrics are the /metrics lines the demo prints.
var shownMetrics = []string{"fluxo_events_total", "fluxo_kafka_records_total", "fluxo_kafka_produce_latency_seconds_count",
	"fluxo_source_lag_seconds", "fluxo_checkpoint_age_seconds", "fluxo_up", "fluxo_ready"}

// printEndpoint prints what the stream's HTTP endpoint answers: readiness,
// liveness and a few metrics.
func printEndpoint(ctx context.Context, st *stream, out io.Writer) error {
	var addr string
	select {
	case addr = <-st.addr:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("the stream's HTTP endpoint did not start")
	}
	fmt.Fprintf(out, "    http://%s (http.listen)\n", addr)
	for _, path := range []string{"/readyz", "/healthz", "/metrics"} {
		code, body, err := get(ctx, "http://"+addr+path)
		if err != nil {
			return err
		}
		if path != "/metrics" {
			fmt.Fprintf(out, "    GET %-9s %d %s", path, code, body)
			continue
		}
		fmt.Fprintf(out, "    GET %-9s %d, among them:\n", path, code)
		for line := range strings.Lines(body) {
			for _, m := range shownMetrics {
				if strings.HasPrefix(line, m+" ") || strings.HasPrefix(line, m+"{") {
					fmt.Fprintf(out, "      %s", line)
				}
			}
		}
	}
	return nil
}

func get(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
