package changes

import (
	"fmt"
	"math/big"
	"reflect"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// kindsTable has a column of every kind the stream writes.
func kindsTable() *cdc.Table {
	return &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "every kind"}, Key: []int{0}, Columns: []cdc.Column{
		{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
		{Name: "i", Kind: cdc.KindInt32, Type: "int", Optional: true},
		{Name: "u", Kind: cdc.KindUint64, Type: "bigint unsigned", Optional: true},
		{Name: "amount", Kind: cdc.KindDecimal, Type: "decimal(12,2)", Precision: 12, Scale: 2, Optional: true},
		{Name: "n", Kind: cdc.KindDecimalText, Type: "numeric", Optional: true},
		{Name: "f", Kind: cdc.KindFloat32, Type: "float", Optional: true},
		{Name: "d", Kind: cdc.KindFloat64, Type: "double", Optional: true},
		{Name: "ok", Kind: cdc.KindBool, Type: "tinyint(1)", Optional: true},
		{Name: "raw", Kind: cdc.KindBytes, Type: "blob", Optional: true},
		{Name: "name with space", Kind: cdc.KindString, Type: "varchar(20)", Optional: true},
		{Name: "doc", Kind: cdc.KindString, Type: "json", SemanticName: "io.debezium.data.Json", Optional: true},
		{Name: "uid", Kind: cdc.KindUUID, Type: "uuid", Optional: true},
		{Name: "day", Kind: cdc.KindDate, Type: "date", Optional: true},
		{Name: "t", Kind: cdc.KindTimeMicros, Type: "time", Optional: true},
		{Name: "dur", Kind: cdc.KindDurationMicros, Type: "time(6)", Optional: true},
		{Name: "local", Kind: cdc.KindLocalTimestampMicros, Type: "datetime(6)", Optional: true},
		{Name: "at", Kind: cdc.KindTimestampMicros, Type: "timestamp(6)", Optional: true},
		{Name: "tags", Kind: cdc.KindArray, Type: "numeric(5,2)[]", Optional: true,
			Elem: &cdc.Column{Kind: cdc.KindDecimal, Precision: 5, Scale: 2}},
	}}
}

// TestDecodeEveryKind: a record the stream encodes decodes into the values
// it was made of (an unsigned bigint comes back as the decimal(20,0) its
// Avro type is), and the columns into the same names, kinds and types.
func TestDecodeEveryKind(t *testing.T) {
	for _, conn := range []cdc.Connector{cdc.ConnectorMySQL, cdc.ConnectorPostgres} {
		t.Run(string(conn), func(t *testing.T) {
			tbl := kindsTable()
			schema, err := avro.ValueSchema(tbl, "fx.shop.every_kind", conn)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := avro.NewEncoder(tbl, conn)
			if err != nil {
				t.Fatal(err)
			}
			after := []any{int64(7), int64(-3), uint64(1<<64 - 1), big.NewInt(-123456), "3.14159265358979",
				float32(1.5), 2.25, true, []byte{0, 1, 255}, "zoë", `{"a":1}`, "0b8a3e2c-0000-4000-8000-000000000001",
				int64(19000), int64(3600e6), int64(-7200e6), int64(1.7e15), int64(1.7e15 + 1),
				[]any{big.NewInt(12345), nil}}
			before := make([]any, len(after))
			before[0] = int64(7)
			ev := &cdc.Event{Op: cdc.OpUpdate, Table: tbl, Before: before, After: after,
				Source: cdc.SourceInfo{TsMs: 1700000000123, DB: "shop", Schema: "public", Table: "every kind",
					File: "binlog.000042", Pos: 4711, Row: 3, LSN: 99, TxID: 5},
				Tx: &cdc.TxInfo{ID: "5:4242", TotalOrder: 1, DataCollectionOrder: 1}}
			b, err := enc.AppendValue(nil, ev, avro.Header{Version: "test", Name: "fx", TsMs: 1})
			if err != nil {
				t.Fatal(err)
			}
			env, err := compileEnvelope(schema)
			if err != nil {
				t.Fatal(err)
			}
			c, err := env.decode(b, &boxarena.Arena{})
			if err != nil {
				t.Fatal(err)
			}
			want := append([]any(nil), after...)
			want[2] = new(big.Int).SetUint64(1<<64 - 1)
			if c.op != "u" || !reflect.DeepEqual(c.after, want) || !reflect.DeepEqual(c.before, before) {
				t.Fatalf("decoded op %q\n after  %#v\n want   %#v\n before %#v", c.op, c.after, want, c.before)
			}
			if c.source.tsMs != 1700000000123 || c.source.db != "shop" || c.source.table != "every kind" {
				t.Fatalf("source = %+v", c.source)
			}
			wantPos := map[cdc.Connector]any{cdc.ConnectorMySQL: "binlog.000042:00000000000000004711:0000000003",
				cdc.ConnectorPostgres: "0000000000001092:0000000000000063"}[conn]
			if got, _ := appendPosition(nil, &c.source); string(got) != wantPos || c.source.txID != "5:4242" {
				t.Fatalf("position %q (source %+v), want %v", got, c.source, wantPos)
			}
			for i, col := range env.cols {
				w := tbl.Columns[i]
				if w.Kind == cdc.KindUint64 {
					w.Kind, w.Precision, w.Scale = cdc.KindDecimal, 20, 0
				}
				if w.Kind == cdc.KindDecimalText {
					w.Kind = cdc.KindString
				}
				if w.Kind == cdc.KindDurationMicros { // Avro long either way
					w.Kind = cdc.KindInt64
				}
				if w.Elem != nil {
					e := *w.Elem
					e.Optional = true // array items are nullable
					w.Elem = &e
				}
				w.Optional = true // every field of the Value record is nullable
				if !reflect.DeepEqual(col, w) {
					t.Errorf("column %d = %+v, want %+v", i, col, w)
				}
			}
		})
	}
}

// TestDecodeBadInput: values that end early or are not an envelope are
// errors, never rows.
func TestDecodeBadInput(t *testing.T) {
	tbl := kindsTable()
	schema, _ := avro.ValueSchema(tbl, "fx.shop.every_kind", cdc.ConnectorMySQL)
	env, err := compileEnvelope(schema)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := avro.NewEncoder(tbl, cdc.ConnectorMySQL)
	row := make([]any, len(tbl.Columns))
	row[0] = int64(1)
	b, _ := enc.AppendValue(nil, &cdc.Event{Op: cdc.OpCreate, Table: tbl, After: row}, avro.Header{})
	for n := range len(b) {
		if _, err := env.decode(b[:n], &boxarena.Arena{}); err == nil {
			t.Fatalf("a value cut to %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := compileEnvelope(`{"type":"record","name":"X","fields":[{"name":"a","type":"long"}]}`); err == nil {
		t.Fatal("a record without before/after/op compiled as an envelope")
	}
	if _, err := compileEnvelope(`"string"`); err == nil {
		t.Fatal("a string schema compiled as an envelope")
	}
}

// debeziumEnvelope is the value schema a Debezium connector registers with
// Confluent's AvroConverter (2.x/3.x) for a customers table in namespace
// ns: Connect's decimal and time types (created's semantic type given),
// the source block's common fields in Debezium's order and types (snapshot
// a nullable enum string with null second) followed by the connector's
// own, the transaction block, and the top-level timestamps nullable.
func debeziumEnvelope(ns, created, connector, sourceFields string) string {
	return fmt.Sprintf(`{"type":"record","name":"Envelope","namespace":"%[1]s","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
   {"name":"id","type":"int"},
   {"name":"first_name","type":"string"},
   {"name":"amount","type":["null",{"type":"bytes","scale":2,"precision":10,"connect.version":1,
     "connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}],"default":null},
   {"name":"created","type":["null",{"type":"long","connect.version":1,"connect.name":"%[2]s"}],"default":null}
  ],"connect.name":"%[1]s.Value"}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.%[3]s","fields":[
   {"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"name","type":"string"},
   {"name":"ts_ms","type":"long"},
   {"name":"snapshot","type":[{"type":"string","connect.version":1,"connect.parameters":{"allowed":"true,last,false,incremental"},
     "connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"],"default":"false"},
   {"name":"db","type":"string"},{"name":"sequence","type":["null","string"],"default":null},
   {"name":"ts_us","type":["null","long"],"default":null},{"name":"ts_ns","type":["null","long"],"default":null},
   %[4]s],"connect.name":"io.debezium.connector.%[3]s.Source"}},
 {"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event","fields":[
   {"name":"id","type":"string"},{"name":"total_order","type":"long"},{"name":"data_collection_order","type":"long"}],
   "connect.version":1,"connect.name":"event.block"}],"default":null},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null},
 {"name":"ts_us","type":["null","long"],"default":null},
 {"name":"ts_ns","type":["null","long"],"default":null}
],"connect.version":2,"connect.name":"%[1]s.Envelope"}`, ns, created, connector, sourceFields)
}

// debeziumMySQL is the MySQL connector's: its source fields after the
// common ones, row an int.
var debeziumMySQL = debeziumEnvelope("dbserver1.inventory.customers", "io.debezium.time.Timestamp", "mysql",
	`{"name":"table","type":["null","string"],"default":null},{"name":"server_id","type":"long"},
   {"name":"gtid","type":["null","string"],"default":null},{"name":"file","type":"string"},
   {"name":"pos","type":"long"},{"name":"row","type":"int"},{"name":"thread","type":["null","long"],"default":null},
   {"name":"query","type":["null","string"],"default":null}`)

// debeziumPostgres is the PostgreSQL connector's: schema, table, txId, lsn
// and xmin.
var debeziumPostgres = debeziumEnvelope("pg1.public.customers", "io.debezium.time.MicroTimestamp", "postgresql",
	`{"name":"schema","type":"string"},{"name":"table","type":"string"},
   {"name":"txId","type":["null","long"],"default":null},{"name":"lsn","type":["null","long"],"default":null},
   {"name":"xmin","type":["null","long"],"default":null}`)

// TestDecodeDebeziumEnvelope: records a Debezium connector wrote (encoded
// here by hamba/avro against Debezium's schemas) decode into the same
// change as fluxo's: op, the row's values and columns, and the source
// fields that make _position, _source_ts_ms and the file's table.
func TestDecodeDebeziumEnvelope(t *testing.T) {
	row := map[string]any{"id": 1001, "first_name": "Sally", "amount": big.NewRat(-1234, 100), "created": int64(1700000000123)}
	tx := map[string]any{"id": "571:53712552", "total_order": int64(1), "data_collection_order": int64(1)}
	for _, tc := range []struct {
		name, schema string
		ns, created  string // the namespace of the row record, the semantic type of created
		source       map[string]any
		want         sourceBlock
		position     any
	}{{
		name: "mysql", schema: debeziumMySQL, ns: "dbserver1.inventory.customers", created: "io.debezium.time.Timestamp",
		source: map[string]any{"version": "2.7.0.Final", "connector": "mysql", "name": "dbserver1", "ts_ms": int64(1700000000000),
			"snapshot": "false", "db": "inventory", "table": "customers", "server_id": int64(223344), "file": "mysql-bin.000003",
			"pos": int64(154), "row": 2},
		want:     sourceBlock{tsMs: 1700000000000, db: "inventory", table: "customers", file: "mysql-bin.000003", pos: 154, row: 2, txID: "571:53712552"},
		position: cdc.BinlogOrder("mysql-bin.000003", 154, 2),
	}, {
		name: "postgres", schema: debeziumPostgres, ns: "pg1.public.customers", created: "io.debezium.time.MicroTimestamp",
		source: map[string]any{"version": "2.7.0.Final", "connector": "postgresql", "name": "pg1", "ts_ms": int64(1700000000000),
			"snapshot": "false", "db": "shop", "schema": "public", "table": "customers", "txId": int64(571), "lsn": int64(53712400)},
		want:     sourceBlock{tsMs: 1700000000000, db: "shop", schema: "public", table: "customers", lsn: 53712400, hasLSN: true, txID: "571:53712552"},
		position: cdc.WALOrder(53712552, 53712400),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := hamba.Parse(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			b, err := hamba.Marshal(s, map[string]any{"before": nil, "after": map[string]any{tc.ns + ".Value": row},
				"source": tc.source, "transaction": map[string]any{"event.block": tx},
				"op": "c", "ts_ms": int64(1700000000456)})
			if err != nil {
				t.Fatal(err)
			}
			env, err := compileEnvelope(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			c, err := env.decode(b, &boxarena.Arena{})
			if err != nil {
				t.Fatal(err)
			}
			want := []any{int64(1001), "Sally", big.NewInt(-1234), int64(1700000000123)}
			if c.op != "c" || c.before != nil || !reflect.DeepEqual(fmt.Sprint(c.after), fmt.Sprint(want)) {
				t.Errorf("decoded op %q before %v after %v, want c, nil, %v", c.op, c.before, c.after, want)
			}
			if c.source != tc.want {
				t.Errorf("source %+v, want %+v", c.source, tc.want)
			}
			if got, _ := appendPosition(nil, &c.source); string(got) != tc.position {
				t.Errorf("position %q, want %v", got, tc.position)
			}
			wantCols := []cdc.Column{
				{Name: "id", Kind: cdc.KindInt32},
				{Name: "first_name", Kind: cdc.KindString},
				{Name: "amount", Kind: cdc.KindDecimal, Precision: 10, Scale: 2, Optional: true, SemanticName: "org.apache.kafka.connect.data.Decimal"},
				{Name: "created", Kind: cdc.KindInt64, Optional: true, SemanticName: tc.created},
			}
			if !reflect.DeepEqual(env.cols, wantCols) {
				t.Errorf("columns %+v, want %+v", env.cols, wantCols)
			}
		})
	}
}
