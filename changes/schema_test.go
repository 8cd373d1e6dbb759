package changes

import (
	"math/big"
	"reflect"
	"testing"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
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
			c, err := env.decode(b)
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
			if got := position(&c.source); got != wantPos || c.source.txID != "5:4242" {
				t.Fatalf("position %v (source %+v), want %v", got, c.source, wantPos)
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
		if _, err := env.decode(b[:n]); err == nil {
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
