package cdc

// Op is the Debezium operation code of an event.
type Op byte

// The operations of SPEC §3.
const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // a row read by a snapshot
	OpTruncate Op = 't'
)

// Snapshot values of SourceInfo.Snapshot.
const (
	SnapshotFalse = "false"
	SnapshotTrue  = "true"
	SnapshotLast  = "last"
	// SnapshotIncremental marks the reads of an incremental snapshot's
	// chunks (Debezium's value).
	SnapshotIncremental = "incremental"
)

// SourceInfo is the envelope's "source" block: where and when the change
// happened at the source. Fields that do not apply to a connector are left
// at their zero value.
type SourceInfo struct {
	// TsMs is the commit time at the source, in Unix milliseconds.
	TsMs int64
	// Snapshot is SnapshotTrue, SnapshotLast or SnapshotFalse.
	Snapshot string
	// DB is the database; Schema the PostgreSQL schema; Table the table.
	DB, Schema, Table string

	// MySQL/MariaDB only.
	ServerID int64
	GTID     string // the transaction's GTID, empty when GTIDs are off
	File     string // binlog file of the event
	Pos      int64  // offset of the event in File
	Row      int32  // index of the row within its rows event

	// PostgreSQL only.
	TxID int64
	LSN  int64
}

// TxInfo is the envelope's "transaction" block.
type TxInfo struct {
	// ID identifies the source transaction (GTID, or txId:lsn).
	ID string
	// TotalOrder is the 1-based position of the event in the transaction;
	// DataCollectionOrder its 1-based position among the transaction's
	// events for the same table.
	TotalOrder          int64
	DataCollectionOrder int64
}

// Event is one row change.
type Event struct {
	Op    Op
	Table *Table
	// Before is the row before the change (updates, deletes), After the row
	// after it (creates, reads, updates); nil when absent. Each has one value
	// per Table.Columns entry, typed by the column's Kind.
	Before, After []any
	Source        SourceInfo
	// Tx is nil outside of transactions (snapshot reads).
	Tx *TxInfo
}

// Position is a point in a source's history from which it can resume. Each
// source has its own typed implementation; outside the source, a position is
// opaque and travels as the bytes of MarshalBinary.
type Position interface {
	// MarshalBinary encodes everything the source needs to resume from this
	// point (including the table schemas in force there). It is called only
	// when a checkpoint is saved, not per event.
	MarshalBinary() ([]byte, error)
	// String describes the position for people (logs, fluxo status).
	String() string
}

// Message is what a Source yields: either a row change (Event non-nil) or a
// transaction boundary (Commit non-nil).
type Message struct {
	Event *Event
	// Commit, when set, says that every event of the transaction (or the
	// snapshot) before it has been yielded, and that resuming from Commit
	// re-reads nothing before it and skips nothing after it.
	Commit Position
	// SaveNow asks the pipeline to checkpoint Commit (once everything before
	// it is acknowledged) before it asks for the next message: the source
	// relies on that position being durable, e.g. where a snapshot started.
	SaveNow bool
	// SaveSoon asks the pipeline to checkpoint soon after Kafka acknowledged
	// everything up to Commit, without waiting for it: an incremental
	// snapshot's chunk, so that a crash re-reads little of the snapshot.
	SaveSoon bool
}
