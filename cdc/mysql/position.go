package mysql

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Position is a MySQL/MariaDB resume point: the executed GTID set after a
// transaction plus the binlog file and offset of the next event, the server's
// identity, and the table schemas in force there.
type Position struct {
	Flavor   string // "mysql" or "mariadb"
	ServerID string // MySQL server_uuid, or "server_id=N" on MariaDB
	GTIDSet  string // empty when GTIDs are off
	File     string
	Offset   uint32
	// SnapshotDone is false while an initial snapshot is under way.
	SnapshotDone bool
	schemas      *schemaSet
	// captured lists the tables whose changes the stream covers from this
	// position on (nil in checkpoints older than the list: the saved
	// schemas stand in); a captured table missing from it is new and gets
	// an incremental snapshot.
	captured []cdc.TableID
	// incremental is the incremental snapshot work left (nil: none).
	incremental *incremental.Progress
}

// schemaSet is the immutable set of captured table schemas at one position;
// a schema change makes a new set (copy on write).
type schemaSet struct {
	tables map[cdc.TableID]*savedTable
}

// savedTable is what the checkpoint keeps of a table: enough to rebuild its
// decoder without asking the server.
type savedTable struct {
	ID    cdc.TableID `json:"id"`
	Descs []colDesc   `json:"columns"`
	PK    []int       `json:"pk,omitempty"`
	// Version counts schema changes seen for the table, for fluxo status.
	Version int `json:"version"`

	once sync.Once // marshals raw
	raw  []byte
	err  error
}

// marshal returns t's JSON, encoded at the first call.
func (t *savedTable) marshal() ([]byte, error) {
	t.once.Do(func() {
		type plain savedTable // without this method, and the same fields
		t.raw, t.err = json.Marshal((*plain)(t))
	})
	return t.raw, t.err
}

func (s *schemaSet) with(t *savedTable) *schemaSet {
	n := &schemaSet{tables: make(map[cdc.TableID]*savedTable, len(s.tables)+1)}
	for k, v := range s.tables {
		n.tables[k] = v
	}
	n.tables[t.ID] = t
	return n
}

type positionDoc struct {
	Flavor       string        `json:"flavor"`
	ServerID     string        `json:"server_id"`
	GTIDSet      string        `json:"gtid_set,omitempty"`
	File         string        `json:"file"`
	Offset       uint32        `json:"pos"`
	SnapshotDone bool          `json:"snapshot_done"`
	Tables       []*savedTable `json:"tables,omitempty"` // appended by MarshalBinary
	Captured     []cdc.TableID `json:"captured,omitempty"`
	// Incremental is the incremental snapshot's progress, when one runs.
	Incremental *incremental.Progress `json:"incremental,omitempty"`
}

// MarshalBinary implements cdc.Position. The tables' schemas, most of the
// bytes, are each marshalled once (a savedTable never changes) and
// appended as they are: a checkpoint is saved up to ten times a second,
// and with a thousand tables re-encoding them all each time was most of
// the start-up's CPU.
func (p *Position) MarshalBinary() ([]byte, error) {
	doc := positionDoc{Flavor: p.Flavor, ServerID: p.ServerID, GTIDSet: p.GTIDSet,
		File: p.File, Offset: p.Offset, SnapshotDone: p.SnapshotDone, Captured: p.captured}
	if p.incremental.Pending() {
		doc.Incremental = p.incremental
	}
	b, err := json.Marshal(doc)
	if err != nil || p.schemas == nil || len(p.schemas.tables) == 0 {
		return b, err
	}
	tables := make([]*savedTable, 0, len(p.schemas.tables))
	for _, t := range p.schemas.tables {
		tables = append(tables, t)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].ID.String() < tables[j].ID.String() })
	b = append(b[:len(b)-1], `,"tables":[`...) // b ends with the doc's '}'
	for i, t := range tables {
		raw, err := t.marshal()
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, raw...)
	}
	return append(b, "]}"...), nil
}

// String implements cdc.Position.
func (p *Position) String() string {
	s := fmt.Sprintf("%s:%d", p.File, p.Offset)
	if p.GTIDSet != "" {
		s = fmt.Sprintf("gtid %s (%s)", p.GTIDSet, s)
	}
	if !p.SnapshotDone {
		s += ", initial snapshot not complete"
	}
	if c := p.incremental.Current(); c != nil {
		s += fmt.Sprintf(", incremental snapshot of %s at row %d (%d tables left)", c.Table, c.Rows, len(p.incremental.Tables))
	}
	return s
}

// ParsePosition decodes a position saved by MarshalBinary.
func ParsePosition(b []byte) (*Position, error) {
	var doc positionDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode mysql position: %w", err)
	}
	p := &Position{Flavor: doc.Flavor, ServerID: doc.ServerID, GTIDSet: doc.GTIDSet,
		File: doc.File, Offset: doc.Offset, SnapshotDone: doc.SnapshotDone,
		schemas: &schemaSet{tables: map[cdc.TableID]*savedTable{}}, captured: doc.Captured, incremental: doc.Incremental}
	for _, t := range doc.Tables {
		p.schemas.tables[t.ID] = t
	}
	return p, nil
}

// Incremental is the incremental snapshot's progress at p: the tables left
// and the cursor of the one being read (nil: none under way).
func (p *Position) Incremental() *incremental.Progress { return p.incremental }

// Tables lists the saved table schemas with their versions, for fluxo status.
func (p *Position) Tables() map[string]int {
	out := map[string]int{}
	if p.schemas != nil {
		for id, t := range p.schemas.tables {
			out[id.String()] = t.Version
		}
	}
	return out
}

var _ cdc.Position = (*Position)(nil)
