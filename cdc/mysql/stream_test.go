package mysql

import (
	"fmt"
	"log/slog"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/fluxo-cdc/fluxo/cdc"
)

type allTables struct{}

func (allTables) Match(string, string) bool                  { return true }
func (allTables) ExcludedColumn(string, string, string) bool { return false }
func (allTables) KeyColumns(string, string) []string         { return nil }

const serverUUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

// mysql8Source is a Source as it stands after connecting to a MySQL 8
// server with GTIDs on, without a connection (information_schema look-ups
// fail and fall back to the binlog's own metadata).
func mysql8Source(t *testing.T) *Source {
	t.Helper()
	set, err := gomysql.ParseGTIDSet(gomysql.MySQLFlavor, serverUUID+":1-4")
	if err != nil {
		t.Fatal(err)
	}
	return &Source{
		opts: Options{Filter: allTables{}, Conn: Conn{Host: "127.0.0.1", Port: 1}},
		log:  slog.New(slog.DiscardHandler), tables: map[uint64]*tableState{}, byName: map[cdc.TableID]*tableEntry{},
		schemas: &schemaSet{tables: map[cdc.TableID]*savedTable{}},
		server:  serverInfo{flavor: gomysql.MySQLFlavor, identity: serverUUID, gtid: true, rowMetadata: "FULL"},
		last:    &Position{}, gset: set, file: "binlog.000007", checksum: 4,
	}
}

func header(tp replication.EventType, pos uint32) *replication.EventHeader {
	return &replication.EventHeader{EventType: tp, LogPos: pos, EventSize: 40, ServerID: 1, Timestamp: 1_700_000_000}
}

// mysql8Transaction is one transaction as MySQL 8 writes it: GTID, BEGIN,
// table map, write rows (with a JSON column already decoded to text by
// go-mysql's binary JSON decoder), XID.
func mysql8Transaction() []*replication.BinlogEvent {
	sid, _ := uuid.MustParse(serverUUID).MarshalBinary()
	tm := &replication.TableMapEvent{TableID: 42, Schema: []byte("shop"), Table: []byte("docs"), ColumnCount: 3,
		ColumnType: []byte{gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_JSON, gomysql.MYSQL_TYPE_LONGLONG},
		ColumnMeta: []uint16{0, 4, 0}, ColumnName: [][]byte{[]byte("id"), []byte("doc"), []byte("big")},
		PrimaryKey: []uint64{0}, SignednessBitmap: []byte{0b0100_0000}, NullBitmap: []byte{0b110}}
	rows := &replication.RowsEvent{TableID: 42, Table: tm,
		Rows: [][]any{{int32(7), `{"a": [1, 2.5, "x"]}`, uint64(18446744073709551615)}}}
	return []*replication.BinlogEvent{
		{Header: header(replication.GTID_EVENT, 200), Event: &replication.GTIDEvent{SID: sid, GNO: 5, OriginalCommitTimestamp: 1_700_000_123_456_789}},
		{Header: header(replication.QUERY_EVENT, 300), Event: &replication.QueryEvent{Query: []byte("BEGIN")}},
		{Header: header(replication.TABLE_MAP_EVENT, 400), Event: tm, RawData: make([]byte, 80)},
		{Header: header(replication.WRITE_ROWS_EVENTv2, 500), Event: rows},
		{Header: header(replication.XID_EVENT, 531), Event: &replication.XIDEvent{XID: 9}},
	}
}

func TestMySQL8Transaction(t *testing.T) {
	tests := []struct {
		name   string
		events func() []*replication.BinlogEvent
	}{
		{"plain", mysql8Transaction},
		{"compressed transaction payload", func() []*replication.BinlogEvent {
			inner := mysql8Transaction()
			return []*replication.BinlogEvent{{Header: header(replication.TRANSACTION_PAYLOAD_EVENT, 531),
				Event: &replication.TransactionPayloadEvent{Events: inner}}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mysql8Source(t)
			for _, ev := range tc.events() {
				if err := s.handle(ev); err != nil {
					t.Fatal(err)
				}
			}
			msgs := pending(s)
			if len(msgs) != 2 {
				t.Fatalf("got %d messages, want an event and a commit", len(msgs))
			}
			ev := msgs[0].Event
			want := fmt.Sprint([]any{int64(7), `{"a": [1, 2.5, "x"]}`, uint64(18446744073709551615)})
			if got := fmt.Sprint(ev.After); got != want || ev.Op != cdc.OpCreate {
				t.Errorf("event %c %s, want c %s", ev.Op, got, want)
			}
			if c := ev.Table.Columns[1]; c.SemanticName != "io.debezium.data.Json" || c.Kind != cdc.KindString {
				t.Errorf("json column: %+v", c)
			}
			if c := ev.Table.Columns[2]; c.Kind != cdc.KindUint64 || c.Type != "bigint unsigned" {
				t.Errorf("bigint unsigned column: %+v", c)
			}
			if ev.Source.GTID != serverUUID+":5" || ev.Source.TsMs != 1_700_000_123_456 || ev.Source.File != "binlog.000007" {
				t.Errorf("source: %+v", ev.Source)
			}
			if ev.Tx == nil || ev.Tx.ID != serverUUID+":5" || ev.Tx.TotalOrder != 1 {
				t.Errorf("tx: %+v", ev.Tx)
			}
			pos := msgs[1].Commit.(*Position)
			if pos.GTIDSet != serverUUID+":1-5" || pos.Offset != 531 {
				t.Errorf("commit position %s, want %s:1-5 at 531", pos, serverUUID)
			}
		})
	}
}

// TestDDLIsATransaction: a DDL statement (GTID then a query, no XID) ends
// in a commit of its own and advances the GTID set; a statement inside
// BEGIN does not.
func TestDDLIsATransaction(t *testing.T) {
	s := mysql8Source(t)
	sid, _ := uuid.MustParse(serverUUID).MarshalBinary()
	events := []*replication.BinlogEvent{
		{Header: header(replication.GTID_EVENT, 100), Event: &replication.GTIDEvent{SID: sid, GNO: 5}},
		{Header: header(replication.QUERY_EVENT, 150), Event: &replication.QueryEvent{Query: []byte("ALTER TABLE docs ADD COLUMN x INT")}},
		{Header: header(replication.GTID_EVENT, 200), Event: &replication.GTIDEvent{SID: sid, GNO: 6}},
		{Header: header(replication.QUERY_EVENT, 250), Event: &replication.QueryEvent{Query: []byte("BEGIN")}},
		{Header: header(replication.QUERY_EVENT, 300), Event: &replication.QueryEvent{Query: []byte("SAVEPOINT a")}},
	}
	for _, ev := range events {
		if err := s.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	msgs := pending(s)
	if len(msgs) != 1 || msgs[0].Commit == nil {
		t.Fatalf("got %d messages, want exactly the DDL's commit", len(msgs))
	}
	if p := msgs[0].Commit.(*Position); p.GTIDSet != serverUUID+":1-5" || p.Offset != 150 {
		t.Errorf("DDL commit at %s", p)
	}
}

// TestPositionRoundTrip checks that a position with schemas survives the
// checkpoint encoding.
func TestPositionRoundTrip(t *testing.T) {
	s := mysql8Source(t)
	for _, ev := range mysql8Transaction() {
		if err := s.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := pending(s)[1].Commit.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePosition(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.GTIDSet != serverUUID+":1-5" || p.File != "binlog.000007" || p.Tables()["shop.docs"] != 1 {
		t.Errorf("round trip: %s tables %v", p, p.Tables())
	}
	saved := p.schemas.tables[cdc.TableID{Schema: "shop", Name: "docs"}]
	if saved == nil || len(saved.Descs) != 3 || saved.Descs[1].Base != "json" || fmt.Sprint(saved.PK) != "[0]" {
		t.Errorf("saved schema: %+v", saved)
	}
}

// pending pops the messages the source has decoded so far.
func pending(s *Source) []cdc.Message {
	var out []cdc.Message
	for m, ok := s.pending.Pop(); ok; m, ok = s.pending.Pop() {
		out = append(out, m)
	}
	return out
}
