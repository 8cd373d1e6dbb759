package postgres

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/jackc/pglogrepl"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Position is a PostgreSQL resume point: the end LSN of the last
// transaction fully handled, on a server and slot.
type Position struct {
	SystemID string // IDENTIFY_SYSTEM's systemid
	Slot     string
	// LSN is where streaming resumes: transactions that committed at or
	// before it are done.
	LSN pglogrepl.LSN
	// SnapshotDone is false while the initial snapshot is under way.
	SnapshotDone bool
	// Versions counts schema versions per table, for fluxo status.
	versions map[string]int
	// captured lists the tables whose changes the stream covers from this
	// position on (nil in older checkpoints: versions stands in).
	captured []cdc.TableID
	// incremental is the incremental snapshot work left (nil: none).
	incremental *incremental.Progress
}

type positionDoc struct {
	SystemID     string         `json:"system_id"`
	Slot         string         `json:"slot"`
	LSN          string         `json:"lsn"`
	SnapshotDone bool           `json:"snapshot_done"`
	Tables       map[string]int `json:"tables,omitempty"`
	Captured     []cdc.TableID  `json:"captured,omitempty"`
	// Incremental is the incremental snapshot's progress, when one runs.
	Incremental *incremental.Progress `json:"incremental,omitempty"`
}

// MarshalBinary implements cdc.Position.
func (p *Position) MarshalBinary() ([]byte, error) {
	doc := positionDoc{SystemID: p.SystemID, Slot: p.Slot, LSN: p.LSN.String(),
		SnapshotDone: p.SnapshotDone, Tables: p.versions, Captured: p.captured}
	if p.incremental.Pending() {
		doc.Incremental = p.incremental
	}
	return json.Marshal(doc)
}

// String implements cdc.Position.
func (p *Position) String() string {
	s := fmt.Sprintf("lsn %s (slot %s)", p.LSN, p.Slot)
	if !p.SnapshotDone {
		s += ", initial snapshot not complete"
	}
	if c := p.incremental.Current(); c != nil {
		s += fmt.Sprintf(", incremental snapshot of %s at row %d (%d tables left)", c.Table, c.Rows, len(p.incremental.Tables))
	}
	return s
}

// Incremental is the incremental snapshot's progress at p: the tables left
// and the cursor of the one being read (nil: none under way).
func (p *Position) Incremental() *incremental.Progress { return p.incremental }

// Tables returns the schema version of each table seen, for fluxo status.
func (p *Position) Tables() map[string]int { return maps.Clone(p.versions) }

// ParsePosition decodes a position saved by MarshalBinary.
func ParsePosition(b []byte) (*Position, error) {
	var doc positionDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode postgres position: %w", err)
	}
	lsn, err := pglogrepl.ParseLSN(doc.LSN)
	if err != nil {
		return nil, fmt.Errorf("decode postgres position: %w", err)
	}
	return &Position{SystemID: doc.SystemID, Slot: doc.Slot, LSN: lsn, SnapshotDone: doc.SnapshotDone,
		versions: doc.Tables, captured: doc.Captured, incremental: doc.Incremental}, nil
}

var _ cdc.Position = (*Position)(nil)
