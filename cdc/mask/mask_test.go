package mask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// rules masks by "schema.table.column".
type rules map[string]Action

func (r rules) MaskColumn(schema, table, column string) Action { return r[schema+"."+table+"."+column] }

var key = []byte("0123456789abcdef")

func hmacHex(text string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))
}

var customers = &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "customers"}, Key: []int{0}, Columns: []cdc.Column{
	{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
	{Name: "cpf", Kind: cdc.KindString, Type: "varchar(14)", Optional: true},
	{Name: "born", Kind: cdc.KindDate, Type: "date"},
	{Name: "limit", Kind: cdc.KindDecimal, Type: "decimal(10,2)", Precision: 10, Scale: 2},
	{Name: "note", Kind: cdc.KindString, Type: "text", Optional: true},
}}

// script yields its messages, then blocks.
type script struct{ msgs []cdc.Message }

func (s *script) Next(ctx context.Context) (cdc.Message, error) {
	if len(s.msgs) == 0 {
		<-ctx.Done()
		return cdc.Message{}, ctx.Err()
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}
func (s *script) Ack(context.Context, cdc.Position) error { return nil }
func (s *script) Close() error                            { return nil }

// TestSource: hashed columns carry the HMAC of their text and become
// optional strings, redacted ones are null, the others and the source's
// own rows are untouched; a masked key column is a permanent error.
func TestSource(t *testing.T) {
	m := New(rules{"shop.customers.cpf": Hash, "shop.customers.born": Hash, "shop.customers.limit": Hash, "shop.customers.note": Redact}, key)
	row := []any{int64(7), "123.456.789-00", int64(19723), big.NewInt(5990), "secret note"}
	orig := append([]any(nil), row...)
	src := m.Source(&script{msgs: []cdc.Message{{Event: &cdc.Event{Op: cdc.OpCreate, Table: customers, After: row}}}})
	msg, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(7), hmacHex("123.456.789-00"), hmacHex("2024-01-01"), hmacHex("59.90"), nil}
	if !reflect.DeepEqual(msg.Event.After, want) {
		t.Fatalf("masked row %v\nwant %v", msg.Event.After, want)
	}
	if !reflect.DeepEqual(row, orig) {
		t.Fatalf("the source's row changed: %v", row)
	}
	for i, c := range msg.Event.Table.Columns[1:] {
		if c.Kind != cdc.KindString || !c.Optional {
			t.Errorf("masked column %d: %+v, want an optional string", i+1, c)
		}
	}
	if msg.Event.Table.Columns[0] != customers.Columns[0] {
		t.Errorf("the key column changed: %+v", msg.Event.Table.Columns[0])
	}

	keyed := New(rules{"shop.customers.id": Hash}, key).Source(&script{msgs: []cdc.Message{{Event: &cdc.Event{Op: cdc.OpCreate, Table: customers, After: row}}}})
	if _, err := keyed.Next(context.Background()); !errors.Is(err, ErrKeyColumn) || !cdc.Permanent(err) {
		t.Fatalf("masking a key column: %v, want a permanent ErrKeyColumn", err)
	}
}

// TestCanonical: equal values give equal text whatever the column type, so
// that hashes join across tables.
func TestCanonical(t *testing.T) {
	tests := []struct {
		col  cdc.Column
		v    any
		want string
	}{
		{cdc.Column{Kind: cdc.KindInt32}, int64(42), "42"},
		{cdc.Column{Kind: cdc.KindInt64}, int64(42), "42"},
		{cdc.Column{Kind: cdc.KindUint64}, uint64(42), "42"},
		{cdc.Column{Kind: cdc.KindDecimal, Scale: 2}, big.NewInt(-5), "-0.05"},
		{cdc.Column{Kind: cdc.KindDecimal}, big.NewInt(42), "42"},
		{cdc.Column{Kind: cdc.KindFloat64}, 0.1, "0.1"},
		{cdc.Column{Kind: cdc.KindBool}, true, "true"},
		{cdc.Column{Kind: cdc.KindString}, "ana@example.com", "ana@example.com"},
		{cdc.Column{Kind: cdc.KindBytes}, []byte("raw"), "raw"},
		{cdc.Column{Kind: cdc.KindDate}, int64(0), "1970-01-01"},
		{cdc.Column{Kind: cdc.KindTimeMicros}, int64(3_600_000_001), "01:00:00.000001"},
		{cdc.Column{Kind: cdc.KindLocalTimestampMicros}, int64(1_500_000), "1970-01-01T00:00:01.5"},
		{cdc.Column{Kind: cdc.KindTimestampMicros}, int64(0), "1970-01-01T00:00:00Z"},
		{cdc.Column{Kind: cdc.KindArray, Elem: &cdc.Column{Kind: cdc.KindInt32}}, []any{int64(1), int64(2)}, "[1,2]"},
	}
	for _, tt := range tests {
		if got := string(Canonical(&tt.col, tt.v)); got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.col.Kind, tt.v, got, tt.want)
		}
	}
}

// fakeDumper reads one chunk of customers.
type fakeDumper struct{ cdc.Dumper }

func (fakeDumper) Tables(context.Context) ([]cdc.DumpTable, error) {
	return []cdc.DumpTable{{Table: customers}}, nil
}

func (fakeDumper) Read(_ context.Context, _ cdc.Chunk, fn func([]any) error) error {
	return fn([]any{int64(1), "111.111.111-11", int64(0), big.NewInt(1), "n"})
}

// TestDumper: the full load's tables and rows are masked the same way.
func TestDumper(t *testing.T) {
	d := New(rules{"shop.customers.cpf": Hash, "shop.customers.note": Redact}, key).Dumper(fakeDumper{})
	tables, err := d.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := tables[0].Table.Columns[1]; c.Kind != cdc.KindString || c.Type != "varchar(14) masked (hash)" {
		t.Fatalf("masked column %+v", c)
	}
	var got []any
	if err := d.Read(context.Background(), cdc.Chunk{Table: customers.ID}, func(row []any) error { got = row; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(1), hmacHex("111.111.111-11"), int64(0), big.NewInt(1), nil}; !reflect.DeepEqual(got, want) {
		t.Fatalf("row %v\nwant %v", got, want)
	}
}
