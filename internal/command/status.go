package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
	"github.com/fluxo-cdc/fluxo/internal/config"
)

// StatusReport is what `fluxo status --json` prints.
type StatusReport struct {
	Name       string         `json:"name"`
	Checkpoint string         `json:"checkpoint_file"`
	Saved      bool           `json:"saved"`
	Connector  cdc.Connector  `json:"connector,omitempty"`
	Position   string         `json:"position,omitempty"`
	SavedAt    *time.Time     `json:"saved_at,omitempty"`
	AgeSeconds float64        `json:"age_seconds,omitempty"`
	Tables     map[string]int `json:"tables,omitempty"` // table -> schema version
	Lag        *LagReport     `json:"lag,omitempty"`
	// Snapshot lists the tables an incremental snapshot still has to read,
	// the first being read, as of the checkpoint.
	Snapshot []incremental.TableReport `json:"incremental_snapshot,omitempty"`
}

// LagReport is how far the checkpoint is behind the source, where the
// source can tell. Unknown figures are -1.
type LagReport struct {
	// Source is the source's current position.
	Source string `json:"source_position,omitempty"`
	// Bytes is binlog (MySQL) or WAL (PostgreSQL) written after the
	// checkpoint.
	Bytes int64 `json:"bytes"`
	// Transactions is the GTIDs executed after the checkpoint (MySQL with
	// GTIDs; -1 otherwise).
	Transactions int64 `json:"transactions"`
	// SlotRetainedBytes is the WAL the PostgreSQL slot holds back.
	SlotRetainedBytes int64 `json:"slot_retained_bytes,omitempty"`
	// SlotStatus is the PostgreSQL slot's wal_status, or "missing".
	SlotStatus string `json:"slot_status,omitempty"`
	// Text says the same in words.
	Text string `json:"text"`
	// Error is why the lag could not be read (the source is unreachable).
	Error string `json:"error,omitempty"`
}

// Status prints the stored checkpoint of cfg's stream to w, as JSON when
// asJSON is set.
func Status(ctx context.Context, cfg *config.Config, w io.Writer, asJSON bool) error {
	_, cp, err := loadCheckpoint(ctx, cfg)
	if err != nil {
		return err
	}
	r := StatusReport{Name: cfg.Name, Checkpoint: cfg.Checkpoint.Where(cfg.Name), Saved: cp != nil}
	if cp != nil {
		r.Connector, r.Position, r.SavedAt = cp.Connector, cp.Describe, &cp.SavedAt
		r.AgeSeconds = time.Since(cp.SavedAt).Seconds()
		if kind := kindNamed(cp.Connector); kind != nil {
			r.Tables, _ = kind.tables(cp.Position)
			r.Snapshot = snapshotTables(kind, cp.Position)
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r.Lag = readLag(lctx, cfg, kind, cp.Position)
			cancel()
		}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printStatus(w, r)
	return nil
}

func printStatus(w io.Writer, r StatusReport) {
	fmt.Fprintf(w, "stream:      %s\ncheckpoint:  %s\n", r.Name, r.Checkpoint)
	if !r.Saved {
		fmt.Fprintln(w, "saved:       never (the next start takes a snapshot per snapshot.mode)")
		return
	}
	fmt.Fprintf(w, "connector:   %s\nposition:    %s\nsaved at:    %s (%s ago)\n", r.Connector, r.Position,
		r.SavedAt.Format(time.RFC3339), time.Duration(r.AgeSeconds*float64(time.Second)).Round(time.Second))
	names := make([]string, 0, len(r.Tables))
	for n := range r.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, t := range r.Snapshot {
		state := "queued"
		if t.Reading {
			state = fmt.Sprintf("reading: %d rows in %d chunks so far", t.RowsDone, t.Chunks)
			if t.Estimate > 0 {
				state += fmt.Sprintf(" of about %d", t.Estimate)
			}
		}
		label := ""
		if i == 0 {
			label = "snapshot:"
		}
		fmt.Fprintf(w, "%-13s%s (incremental, %s)\n", label, t.Table, state)
	}
	if r.Lag != nil {
		fmt.Fprintf(w, "lag:         %s\n", r.Lag.Text)
		if r.Lag.Source != "" {
			fmt.Fprintf(w, "source at:   %s\n", r.Lag.Source)
		}
	}
	fmt.Fprintf(w, "tables:      %d\n", len(names))
	for _, n := range names {
		fmt.Fprintf(w, "  %-40s schema version %d\n", n, r.Tables[n])
	}
}

// readLag measures how far position is behind the source; a source that
// cannot be reached gives a report saying so.
func readLag(ctx context.Context, cfg *config.Config, kind *sourceKind, position []byte) *LagReport {
	r, err := kind.lag(ctx, cfg, position)
	if err != nil {
		return &LagReport{Bytes: -1, Transactions: -1, Text: "unknown: " + err.Error(), Error: err.Error()}
	}
	return r
}

// snapshotTables lists the incremental snapshot's tables at position.
func snapshotTables(kind *sourceKind, position []byte) []incremental.TableReport {
	if kind.snapshot == nil {
		return nil
	}
	return kind.snapshot(position).Report()
}
