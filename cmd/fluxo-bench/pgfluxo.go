package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/fluxo-cdc/fluxo/internal/config"
)

// runPGFluxo runs app.Stream on slot, which exists and which no checkpoint
// names: with snapshot.mode never fluxo streams from the slot's confirmed
// position (cdc/postgres/source.go, fresh), the start of the backlog.
func runPGFluxo(ctx context.Context, st pgStack, p passSpec, slot string, log *slog.Logger) (fluxoResult, error) {
	cfg, err := pgPassConfig(st, p.Name, slot)
	if err != nil {
		return fluxoResult{}, err
	}
	return measureStream(ctx, cfg, st.Brokers, p.Name+"."+pgSchema+"."+pgTable, p, st.Pids, log)
}

// pgPassConfig returns the stream config of pass name: the bench table,
// its publication and slot, no checkpoint yet.
func pgPassConfig(st pgStack, name, slot string) (*config.Config, error) {
	yaml := fmt.Sprintf(`name: %s
source:
  dsn: %s
  tables: [%s.%s]
  slot: %s
  publication: %s
kafka:
  brokers: [%s]
schema_registry:
  url: %s
checkpoint:
  path: %s
snapshot:
  mode: never
`, name, st.DSN, pgSchema, pgTable, slot, pgPublication, strings.Join(st.Brokers, ", "), st.Registry,
		filepath.Join(st.Dir, name+".checkpoint"))
	return config.Parse(name+".yaml", []byte(yaml), func(string) (string, bool) { return "", false })
}
