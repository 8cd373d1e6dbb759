package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc/mysql"
	"github.com/fluxo-cdc/fluxo/cdc/postgres"
	"github.com/fluxo-cdc/fluxo/config"
)

// statusReport is what `fluxo status --json` prints.
type statusReport struct {
	Name       string         `json:"name"`
	Checkpoint string         `json:"checkpoint_file"`
	Saved      bool           `json:"saved"`
	Connector  string         `json:"connector,omitempty"`
	Position   string         `json:"position,omitempty"`
	SavedAt    *time.Time     `json:"saved_at,omitempty"`
	AgeSeconds float64        `json:"age_seconds,omitempty"`
	Tables     map[string]int `json:"tables,omitempty"` // table -> schema version
}

// Status prints the stored checkpoint of cfg's stream to w, as JSON when
// asJSON is set.
func Status(ctx context.Context, cfg *config.Config, w io.Writer, asJSON bool) error {
	_, cp, err := loadCheckpoint(ctx, cfg)
	if err != nil {
		return err
	}
	r := statusReport{Name: cfg.Name, Checkpoint: cfg.Checkpoint.Path, Saved: cp != nil}
	if cp != nil {
		r.Connector, r.Position, r.SavedAt = cp.Connector, cp.Describe, &cp.SavedAt
		r.AgeSeconds = time.Since(cp.SavedAt).Seconds()
		switch cp.Connector {
		case "mysql":
			if p, err := mysql.ParsePosition(cp.Position); err == nil {
				r.Tables = p.Tables()
			}
		case "postgresql":
			if p, err := postgres.ParsePosition(cp.Position); err == nil {
				r.Tables = p.Tables()
			}
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

func printStatus(w io.Writer, r statusReport) {
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
	fmt.Fprintf(w, "tables:      %d\n", len(names))
	for _, n := range names {
		fmt.Fprintf(w, "  %-40s schema version %d\n", n, r.Tables[n])
	}
}
