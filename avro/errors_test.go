package avro

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestValueErrors checks that wrong values are rejected with a message
// naming the column, and that buf is returned unextended.
func TestValueErrors(t *testing.T) {
	textArray := cdc.Column{Kind: cdc.KindArray, Type: "text[]", Elem: &cdc.Column{Kind: cdc.KindString, Type: "text"}}
	cases := []struct {
		name string
		col  cdc.Column
		v    any
		want string
	}{
		{"decimal as string", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2}, "1.5",
			"orders.v: want *big.Int for decimal(10,2), got string"},
		{"decimal typed nil", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2}, (*big.Int)(nil),
			"want *big.Int for decimal(10,2), got *big.Int"},
		{"decimal too long", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2},
			big.NewInt(10_000_000_000), "orders.v: 10000000000 has more than 10 digits for decimal(10,2)"},
		{"decimal too long negative", cdc.Column{Kind: cdc.KindDecimal, Type: "decimal(65,30)", Precision: 65, Scale: 30},
			bigInt("-1" + strings.Repeat("0", 65)), "has more than 65 digits"},
		{"int32 overflow", cdc.Column{Kind: cdc.KindInt32, Type: "int"}, int64(math.MaxInt32) + 1,
			"orders.v: 2147483648 out of int32 range for int"},
		{"int32 underflow", cdc.Column{Kind: cdc.KindInt32, Type: "int"}, int64(math.MinInt32) - 1, "out of int32 range"},
		{"int32 as uint64", cdc.Column{Kind: cdc.KindInt32, Type: "int"}, uint64(1), "want int64 for int, got uint64"},
		{"date overflow", cdc.Column{Kind: cdc.KindDate, Type: "date"}, int64(math.MaxInt32) + 1, "out of int32 range for date"},
		{"int64 as string", cdc.Column{Kind: cdc.KindInt64, Type: "bigint"}, "1", "want int64 for bigint, got string"},
		{"timestamp as float", cdc.Column{Kind: cdc.KindTimestampMicros}, 1.5, "want int64 for timestamp_micros, got float64"},
		{"uint64 negative", cdc.Column{Kind: cdc.KindUint64, Type: "bigint unsigned"}, -1, "-1 is negative for bigint unsigned"},
		{"uint64 as int64", cdc.Column{Kind: cdc.KindUint64, Type: "bigint unsigned"}, int64(1), "want uint64"},
		{"float32 as float64", cdc.Column{Kind: cdc.KindFloat32, Type: "float"}, 1.5, "want float32 for float, got float64"},
		{"float64 as float32", cdc.Column{Kind: cdc.KindFloat64, Type: "double"}, float32(1), "want float64"},
		{"bool as int", cdc.Column{Kind: cdc.KindBool, Type: "boolean"}, 1, "want bool for boolean, got int"},
		{"string as int", cdc.Column{Kind: cdc.KindString, Type: "text"}, 1, "want string for text, got int"},
		{"uuid as array", cdc.Column{Kind: cdc.KindUUID, Type: "uuid"}, [16]byte{}, "want string for uuid, got [16]uint8"},
		{"bytes as int", cdc.Column{Kind: cdc.KindBytes, Type: "blob"}, 1, "want []byte for blob, got int"},
		{"latin1 text", cdc.Column{Kind: cdc.KindString, Type: "varchar(20)"}, "a\xe7\xe3o",
			`orders.v: "a\xe7\xe3o" is not valid UTF-8 for varchar(20): the source sent text in a character set`},
		{"latin1 text as bytes", cdc.Column{Kind: cdc.KindString, Type: "text"}, []byte("\xfc"), "ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4"},
		{"invalid uuid text", cdc.Column{Kind: cdc.KindUUID, Type: "uuid"}, "\xff", "is not valid UTF-8"},
		{"invalid array element", textArray, []any{"ok", "\xe9t\xe9"}, `orders.v: element 1: "\xe9t\xe9" is not valid UTF-8 for text`},
		{"array as []string", textArray, []string{"a"}, "orders.v: want []any for text[], got []string"},
		{"array element", textArray, []any{"a", 2}, "orders.v: element 1: want string for text, got int"},
		{"nested array element", cdc.Column{Kind: cdc.KindArray, Type: "int[][]", Elem: &cdc.Column{Kind: cdc.KindArray,
			Elem: &cdc.Column{Kind: cdc.KindInt32}}}, []any{[]any{int64(1) << 40}},
			"orders.v: element 0: element 0: 1099511627776 out of int32 range for int32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.col.Name = "v"
			tbl := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "orders"}, Columns: []cdc.Column{c.col}, Key: []int{0}}
			enc, err := NewEncoder(tbl, cdc.ConnectorPostgres)
			if err != nil {
				t.Fatal(err)
			}
			buf := []byte("keep")
			out, err := enc.AppendValue(buf, &cdc.Event{Op: cdc.OpCreate, Table: tbl, After: []any{c.v}}, Header{})
			checkErr(t, "value", out, err, c.want)
			out, err = enc.AppendKey(buf, []any{c.v})
			checkErr(t, "key", out, err, c.want)
		})
	}
}

// checkErr checks that err contains want and that out is still "keep".
func checkErr(t *testing.T, what string, out []byte, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %v, want %q", what, err, want)
	}
	if string(out) != "keep" {
		t.Errorf("%s: buf extended to %q on error", what, out)
	}
}

// TestEventErrors covers errors not tied to one value.
func TestEventErrors(t *testing.T) {
	tbl := ordersTable()
	enc, err := NewEncoder(tbl, cdc.ConnectorMySQL)
	if err != nil {
		t.Fatal(err)
	}
	other := ordersTable()
	keyless := ordersTable()
	keyless.Key = nil
	keylessEnc, _ := NewEncoder(keyless, cdc.ConnectorMySQL)
	nullKey := orderRow(1, nil)
	nullKey[0] = nil
	cases := []struct {
		name string
		run  func([]byte) ([]byte, error)
		want string
	}{
		{"null key", func(b []byte) ([]byte, error) { return enc.AppendKey(b, nullKey) }, "orders.id: null key value"},
		{"short key row", func(b []byte) ([]byte, error) { return enc.AppendKey(b, []any{int64(1)}) }, "row has 1 values for 10 columns"},
		{"keyless", func(b []byte) ([]byte, error) { return keylessEnc.AppendKey(b, orderRow(1, nil)) }, "has no key"},
		{"long row", func(b []byte) ([]byte, error) {
			return enc.AppendValue(b, &cdc.Event{Op: cdc.OpCreate, After: append(orderRow(1, nil), 1)}, Header{})
		}, "row has 11 values"},
		{"bad before", func(b []byte) ([]byte, error) {
			return enc.AppendValue(b, &cdc.Event{Op: cdc.OpUpdate, Before: orderRow(1, 5), After: orderRow(1, nil)}, Header{})
		}, "orders.note: want string for text, got int"},
		{"unknown op", func(b []byte) ([]byte, error) {
			return enc.AppendValue(b, &cdc.Event{Op: 'x', After: orderRow(1, nil)}, Header{})
		}, `unknown op 'x'`},
		{"other table", func(b []byte) ([]byte, error) {
			return enc.AppendValue(b, &cdc.Event{Op: cdc.OpCreate, Table: other, After: orderRow(1, nil)}, Header{})
		}, "given to the encoder of table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.run([]byte("keep"))
			checkErr(t, c.name, out, err, c.want)
		})
	}
}

// TestConstructorErrors covers invalid tables and connectors.
func TestConstructorErrors(t *testing.T) {
	col := func(c cdc.Column) *cdc.Table {
		c.Name = "v"
		return &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{c}, Key: []int{0}}
	}
	cases := []struct {
		name string
		tbl  *cdc.Table
		conn cdc.Connector
		want string
	}{
		{"unknown connector", col(cdc.Column{Kind: cdc.KindInt64}), "oracle", `unknown connector "oracle"`},
		{"invalid kind", col(cdc.Column{}), cdc.ConnectorMySQL, "invalid kind"},
		{"unknown kind", col(cdc.Column{Kind: cdc.KindArray + 1}), cdc.ConnectorMySQL, "unknown kind"},
		{"decimal(0,0)", col(cdc.Column{Kind: cdc.KindDecimal}), cdc.ConnectorMySQL, "invalid decimal(0,0)"},
		{"decimal(2,3)", col(cdc.Column{Kind: cdc.KindDecimal, Precision: 2, Scale: 3}), cdc.ConnectorMySQL, "invalid decimal(2,3)"},
		{"array without elem", col(cdc.Column{Kind: cdc.KindArray}), cdc.ConnectorPostgres, "array without element type"},
		{"bad array elem", col(cdc.Column{Kind: cdc.KindArray, Elem: &cdc.Column{}}), cdc.ConnectorPostgres, "invalid kind"},
		{"key out of range", &cdc.Table{Columns: []cdc.Column{{Name: "a", Kind: cdc.KindInt64}}, Key: []int{1}},
			cdc.ConnectorMySQL, "key index 1 out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewEncoder(c.tbl, c.conn); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewEncoder: %v, want %q", err, c.want)
			}
			_, _, kerr := KeySchema(c.tbl, "p.s.t")
			_, verr := ValueSchema(c.tbl, "p.s.t", c.conn)
			if kerr == nil && verr == nil {
				t.Errorf("schemas accepted the table")
			}
		})
	}
}
