package avro

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// ordersTable is a typical table: key, integers, text, decimal, times and
// nullable columns.
func ordersTable() *cdc.Table {
	return &cdc.Table{
		ID: cdc.TableID{Schema: "shop", Name: "orders"},
		Columns: []cdc.Column{
			{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
			{Name: "customer_id", Kind: cdc.KindInt32, Type: "int"},
			{Name: "status", Kind: cdc.KindString, Type: "enum('new','paid')", SemanticName: "io.debezium.data.Enum"},
			{Name: "amount", Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2},
			{Name: "created_at", Kind: cdc.KindTimestampMicros, Type: "timestamp(6)"},
			{Name: "updated_at", Kind: cdc.KindLocalTimestampMicros, Type: "datetime(6)", Optional: true},
			{Name: "note", Kind: cdc.KindString, Type: "text", Optional: true},
			{Name: "paid", Kind: cdc.KindBool, Type: "tinyint(1)"},
			{Name: "weight", Kind: cdc.KindFloat64, Type: "double", Optional: true},
			{Name: "items", Kind: cdc.KindInt32, Type: "smallint unsigned"},
		},
		Key: []int{0},
	}
}

// orderRow returns a row of ordersTable.
func orderRow(id int64, note any) []any {
	return []any{id, int64(42), "paid", big.NewInt(123456), int64(1_700_000_000_123_456),
		nil, note, true, 2.5, int64(3)}
}

// TestEnvelopeRoundTrip encodes full envelopes for both connectors and
// decodes them with hamba.
func TestEnvelopeRoundTrip(t *testing.T) {
	tbl := ordersTable()
	src := cdc.SourceInfo{TsMs: 1_700_000_000_000, DB: "shop", Schema: "shop", Table: "orders",
		ServerID: 7, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", File: "binlog.000003", Pos: 4711, Row: 2,
		TxID: 555, LSN: 123456789}
	tx := &cdc.TxInfo{ID: "tx-1", TotalOrder: 3, DataCollectionOrder: 2}
	cases := []struct {
		name  string
		conn  cdc.Connector
		ev    cdc.Event
		wantS map[string]any
	}{
		{"mysql update", cdc.ConnectorMySQL,
			cdc.Event{Op: cdc.OpUpdate, Before: orderRow(1, nil), After: orderRow(1, "hi 😀"), Source: src, Tx: tx},
			map[string]any{"table": "orders", "server_id": int64(7), "gtid": src.GTID, "file": "binlog.000003",
				"pos": int64(4711), "row": 2}},
		{"mysql snapshot read", cdc.ConnectorMySQL,
			cdc.Event{Op: cdc.OpRead, After: orderRow(2, nil), Source: cdc.SourceInfo{DB: "shop", Snapshot: cdc.SnapshotLast}},
			map[string]any{"table": nil, "server_id": int64(0), "gtid": nil, "file": "", "pos": int64(0), "row": 0}},
		{"postgresql delete", cdc.ConnectorPostgres,
			cdc.Event{Op: cdc.OpDelete, Before: orderRow(3, "x"), Source: src, Tx: tx},
			map[string]any{"schema": "shop", "table": "orders", "txId": int64(555), "lsn": int64(123456789)}},
		{"postgresql truncate", cdc.ConnectorPostgres,
			cdc.Event{Op: cdc.OpTruncate, Source: cdc.SourceInfo{DB: "shop", Schema: "shop", Table: "orders"}},
			map[string]any{"schema": "shop", "table": "orders", "txId": nil, "lsn": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.ev.Table = tbl
			checkEnvelope(t, tbl, c.conn, &c.ev, c.wantS)
		})
	}
}

// checkEnvelope encodes ev and compares every decoded envelope field.
func checkEnvelope(t *testing.T, tbl *cdc.Table, conn cdc.Connector, ev *cdc.Event, wantS map[string]any) {
	t.Helper()
	enc, err := NewEncoder(tbl, conn)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ValueSchema(tbl, "fx.shop.orders", conn)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Version: "1.2.3", Name: "fx", TsMs: 1_700_000_000_999}
	data, err := enc.AppendValue(nil, ev, h)
	if err != nil {
		t.Fatal(err)
	}
	env := decode(t, parse(t, vs), data).(map[string]any)
	if env["op"] != string(rune(ev.Op)) || env["ts_ms"] != h.TsMs {
		t.Errorf("op %v ts_ms %v", env["op"], env["ts_ms"])
	}
	checkImage(t, tbl, "before", ev.Before, env["before"])
	checkImage(t, tbl, "after", ev.After, env["after"])
	snap := ev.Source.Snapshot
	if snap == "" {
		snap = "false"
	}
	wantS["version"], wantS["connector"], wantS["name"] = "1.2.3", string(conn), "fx"
	wantS["ts_ms"], wantS["snapshot"], wantS["db"] = ev.Source.TsMs, snap, ev.Source.DB
	if got := env["source"]; !reflect.DeepEqual(got, wantS) {
		t.Errorf("source\n got %#v\nwant %#v", got, wantS)
	}
	var wantTx any
	if ev.Tx != nil {
		wantTx = map[string]any{"id": ev.Tx.ID, "total_order": ev.Tx.TotalOrder, "data_collection_order": ev.Tx.DataCollectionOrder}
	}
	if !reflect.DeepEqual(env["transaction"], wantTx) {
		t.Errorf("transaction %#v, want %#v", env["transaction"], wantTx)
	}
}

// checkImage compares a decoded before/after image with the row.
func checkImage(t *testing.T, tbl *cdc.Table, name string, row []any, got any) {
	t.Helper()
	if row == nil {
		if got != nil {
			t.Errorf("%s: got %#v, want null", name, got)
		}
		return
	}
	m := got.(map[string]any)
	for i := range tbl.Columns {
		c := &tbl.Columns[i]
		if g, w := native(t, c, m[c.Name]), canonical(c, row[i]); !same(w, g) {
			t.Errorf("%s.%s: got %#v, want %#v", name, c.Name, g, w)
		}
	}
}

// mysqlSource mirrors the MySQL source record for hamba's typed decoding.
type mysqlSource struct {
	Version   string  `avro:"version"`
	Connector string  `avro:"connector"`
	Name      string  `avro:"name"`
	TsMs      int64   `avro:"ts_ms"`
	Snapshot  string  `avro:"snapshot"`
	DB        string  `avro:"db"`
	Table     *string `avro:"table"`
	ServerID  int64   `avro:"server_id"`
	GTID      *string `avro:"gtid"`
	File      string  `avro:"file"`
	Pos       int64   `avro:"pos"`
	Row       int32   `avro:"row"`
}

// orderValue mirrors part of ordersTable's Value record.
type orderValue struct {
	ID        *int64     `avro:"id"`
	Amount    **big.Rat  `avro:"amount"` // hamba decodes a nullable decimal into **big.Rat only
	CreatedAt *time.Time `avro:"created_at"`
	Note      *string    `avro:"note"`
}

// TestTypedDecode decodes an envelope into Go structs with hamba.Unmarshal,
// as a typical Go consumer would (unknown fields are skipped).
func TestTypedDecode(t *testing.T) {
	tbl := ordersTable()
	enc, _ := NewEncoder(tbl, cdc.ConnectorMySQL)
	vs, _ := ValueSchema(tbl, "fx.shop.orders", cdc.ConnectorMySQL)
	ev := &cdc.Event{Op: cdc.OpCreate, Table: tbl, After: orderRow(9, "n"),
		Source: cdc.SourceInfo{TsMs: 5, DB: "shop", Table: "orders", File: "f", Pos: 4, Row: 1}}
	data, err := enc.AppendValue(nil, ev, Header{Version: "v", Name: "fx", TsMs: 6})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		After  *orderValue `avro:"after"`
		Source mysqlSource `avro:"source"`
		Op     string      `avro:"op"`
	}
	if err := hamba.Unmarshal(parse(t, vs), data, &got); err != nil {
		t.Fatal(err)
	}
	a := got.After
	if a == nil || *a.ID != 9 || (*a.Amount).RatString() != "30864/25" || a.CreatedAt.UnixMicro() != 1_700_000_000_123_456 || *a.Note != "n" {
		t.Errorf("after %+v", a)
	}
	s := got.Source
	if s.Connector != "mysql" || s.Snapshot != "false" || *s.Table != "orders" || s.GTID != nil || s.Row != 1 || got.Op != "c" {
		t.Errorf("source %+v op %q", s, got.Op)
	}
}
