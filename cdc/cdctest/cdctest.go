// Package cdctest is the contract every cdc.Source keeps, written as tests
// that run against a real server: a transaction's events and its one
// commit, resuming from a marshalled position, Ack, the handoff from
// snapshot to stream, schema changes, truncates, the end of an initial_only
// stream and Close. It is modelled on litestream's replica_client_test.go:
// each source's tests run RunSource against a real server. A new source
// feature gets its case here first.
//
// The suite imports "testing"; only tests use it.
package cdctest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// Harness gives the suite a real server for one kind of source.
type Harness interface {
	// Fixture returns a fresh, isolated place (a database on MariaDB, a
	// database or schema on PostgreSQL) for one case; t.Cleanup removes
	// what it made (slots included).
	Fixture(t *testing.T) Fixture
}

// Fixture is one case's place on the server.
type Fixture interface {
	// Table is the TableID the source reports for a table created in the
	// fixture under name.
	Table(name string) cdc.TableID
	// Exec runs the statements in order on one connection (so BEGIN ...
	// COMMIT makes one transaction), failing t on error.
	Exec(t *testing.T, stmts ...string)
	// Open opens a source capturing the fixture's tables; o.Checkpoint nil
	// is a first start. Every Open of one fixture uses the same slot /
	// server id. It fails t when the source does not open; the suite closes
	// the source. A source that reports its progress to the server
	// periodically (a PostgreSQL status update) should do so at least every
	// second here: the ack case streams idle for a little longer, giving a
	// source that confirms too early the time to do so.
	Open(t *testing.T, o OpenOptions) cdc.Source
	// Sever ends the open source's streaming connection (the binlog dump,
	// the replication connection) from the server's side, as a network
	// failure or a server-side kill would; the source is to reconnect.
	Sever(t *testing.T)
}

// OpenOptions are the options of one Fixture.Open.
type OpenOptions struct {
	// Snapshot is a snapshot mode (cdc.SnapshotInitial, ...); it applies
	// to a first start.
	Snapshot string
	// Checkpoint is a position the source yielded, as MarshalBinary
	// encoded it, or nil for a first start.
	Checkpoint []byte
	// Tables, when set, narrows the capture to these tables of the fixture
	// (names as Fixture.Table takes them), as source.tables does; nil
	// captures every table of the fixture.
	Tables []string
	// ChunkRows is the incremental snapshot's chunk size (0: the source's
	// default).
	ChunkRows int
	// Snapshots takes on-demand snapshot requests (nil: none).
	Snapshots *incremental.Control
	// SignalTable names the fixture's signal table (as Fixture.Table
	// takes it; "": none).
	SignalTable string
	// Health receives the source's reachability (nil: none).
	Health cdc.Health
}

// Limits says where a source, by design, reports less than the full
// contract. The zero value expects everything.
type Limits struct {
	// KeyOnlyBefore: an update's Before may be nil, and a delete's Before
	// may hold only the key columns (the others nil), as PostgreSQL sends
	// them for a table with REPLICA IDENTITY DEFAULT.
	KeyOnlyBefore bool
	// NoAddedTableSnapshot: the source does not yet snapshot a table added
	// to the capture when it resumes (PostgreSQL, until issue 12 lands
	// there).
	NoAddedTableSnapshot bool
}

// Limited is implemented by a Harness whose source has Limits; a Harness
// that does not implement it is held to the full contract.
type Limited interface {
	Limits() Limits
}

// Dialect is the little of the servers' SQL that differs in the suite's
// statements. The zero value is MariaDB's and MySQL's.
type Dialect struct {
	// Binary is the type of a variable-length binary column (default
	// VARBINARY(16)).
	Binary string
	// BinaryLiteral is the SQL literal of the bytes b (default X'hex').
	BinaryLiteral func(b []byte) string
}

// Dialected is a Harness whose servers' SQL differs from the default
// Dialect.
type Dialected interface {
	Dialect() Dialect
}

// dialectOf returns h's Dialect with the defaults filled in.
func dialectOf(h Harness) Dialect {
	var d Dialect
	if x, ok := h.(Dialected); ok {
		d = x.Dialect()
	}
	if d.Binary == "" {
		d.Binary = "VARBINARY(16)"
	}
	if d.BinaryLiteral == nil {
		d.BinaryLiteral = func(b []byte) string { return fmt.Sprintf("X'%x'", b) }
	}
	return d
}

// limitsOf returns h's Limits.
func limitsOf(h Harness) Limits {
	if l, ok := h.(Limited); ok {
		return l.Limits()
	}
	return Limits{}
}

// env is what a case gets: its fixture and the harness's limits.
type env struct {
	Fixture
	limits  Limits
	dialect Dialect
}

// testCase is one case of the suite, run with a fixture of its own.
type testCase struct {
	name string
	run  func(t *testing.T, e env)
}

// cases are the suite's cases, in the order they run.
var cases = []testCase{
	{"transaction then commit", testTransaction},
	{"resume from a marshalled position", testResume},
	{"ack as documented", testAck},
	{"consistent snapshot to stream handoff", testSnapshotHandoff},
	{"schema change mid-stream", testSchemaChange},
	{"truncate", testTruncate},
	{"truncate of a table unchanged since open", testTruncateUnchanged},
	{"end of stream (initial_only)", testEndOfStream},
	{"snapshot.mode never checkpoints its start", testNeverSavesStart},
	{"incremental initial snapshot", testSnapshotInitial},
	{"on-demand snapshot of a streaming table, resumed", testOnDemand},
	{"snapshot requested by a signal row, resumed", testSignal},
	{"close twice", testCloseTwice},
	{"connection lost inside a transaction", testReconnectInsideTransaction},
	{"table added at a restart", testAddedTable},
	{"added table with a composite text key, in small chunks", testAddedTableChunks},
	{"added table altered between chunks", testAddedTableAltered},
	{"added table with a uuid key, in small chunks", testAddedTableUUID},
	{"added table with a binary key, in small chunks", testAddedTableBinary},
	{"added tables dropped mid-snapshot and empty", testAddedTableDropped},
}

// RunSource runs every case of the contract as a subtest of t, each with a
// fresh fixture from h.
func RunSource(t *testing.T, h Harness) {
	limits, dialect := limitsOf(h), dialectOf(h)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, env{Fixture: h.Fixture(t), limits: limits, dialect: dialect})
		})
	}
}

// FixtureName is a name for a harness's fixture n of the test called
// testName that every server takes for a database, schema or slot: lower
// case letters, digits and underscores, at most 60 bytes.
func FixtureName(n int, testName string) string {
	s := fmt.Sprintf("c%d_%s", n, strings.ToLower(testName))
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
	return s[:min(len(s), 60)]
}
