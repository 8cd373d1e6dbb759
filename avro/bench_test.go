package avro

import (
	"bytes"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// benchEvent is a typical change: a 10-column row with a null column, in a
// transaction.
func benchEvent() *cdc.Event {
	tbl := ordersTable()
	return &cdc.Event{Op: cdc.OpCreate, Table: tbl, After: orderRow(123456, "a short note"),
		Source: cdc.SourceInfo{TsMs: 1_700_000_000_000, DB: "shop", Table: "orders", ServerID: 1,
			GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", File: "binlog.000003", Pos: 4711},
		Tx: &cdc.TxInfo{ID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", TotalOrder: 1, DataCollectionOrder: 1}}
}

// benchHeader returns the header used by the benchmarks.
func benchHeader() Header { return Header{Version: "0.1.0", Name: "fx", TsMs: 1_700_000_000_500} }

// hambaGeneric returns the envelope schema and the event as the generic
// map hamba decodes it to, which hamba can encode again.
func hambaGeneric(tb testing.TB, ev *cdc.Event) (hamba.Schema, []byte, map[string]any) {
	tb.Helper()
	enc, err := NewEncoder(ev.Table, cdc.ConnectorMySQL)
	if err != nil {
		tb.Fatal(err)
	}
	vs, err := ValueSchema(ev.Table, "fx.shop.orders", cdc.ConnectorMySQL)
	if err != nil {
		tb.Fatal(err)
	}
	s := parse(tb, vs)
	data, err := enc.AppendValue(nil, ev, benchHeader())
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := hamba.Unmarshal(s, data, &m); err != nil {
		tb.Fatal(err)
	}
	return s, data, m
}

// TestHambaAgrees checks that hamba, encoding what it decoded from our
// bytes, produces the same bytes.
func TestHambaAgrees(t *testing.T) {
	s, data, m := hambaGeneric(t, benchEvent())
	again, err := hamba.Marshal(s, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("hamba re-encoding differs:\n ours % x\nhamba % x", data, again)
	}
}

// BenchmarkEncode measures AppendValue plus AppendKey, with the Confluent
// header, for a 10-column row, reusing the buffer.
func BenchmarkEncode(b *testing.B) {
	ev := benchEvent()
	enc, err := NewEncoder(ev.Table, cdc.ConnectorMySQL)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	h := benchHeader()
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendConfluentHeader(buf[:0], 1)
		if buf, err = enc.AppendValue(buf, ev, h); err != nil {
			b.Fatal(err)
		}
		buf = AppendConfluentHeader(buf, 2)
		if buf, err = enc.AppendKey(buf, ev.After); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkEncodeValue measures AppendValue alone.
func BenchmarkEncodeValue(b *testing.B) {
	ev := benchEvent()
	enc, _ := NewEncoder(ev.Table, cdc.ConnectorMySQL)
	var buf []byte
	var err error
	h := benchHeader()
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = enc.AppendValue(buf[:0], ev, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHambaGenericMap encodes the same envelope with hamba from a
// map[string]any, for comparison.
func BenchmarkHambaGenericMap(b *testing.B) {
	s, _, m := hambaGeneric(b, benchEvent())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hamba.Marshal(s, m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeDoesNotAllocate checks that encoding into a large enough buffer
// allocates nothing, for every kind's values (decimals included) and for a
// whole envelope.
func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 4096)
	ev := benchEvent()
	enc, _ := NewEncoder(ev.Table, cdc.ConnectorMySQL)
	h := benchHeader()
	if n := testing.AllocsPerRun(20, func() { _, _ = enc.AppendValue(buf, ev, h) }); n != 0 {
		t.Errorf("AppendValue: %v allocs", n)
	}
	for _, kc := range kindCases() {
		kc.col.Name = "v"
		tbl := &cdc.Table{Columns: []cdc.Column{kc.col}, Key: []int{0}}
		enc, _ := NewEncoder(tbl, cdc.ConnectorPostgres)
		for _, v := range kc.values {
			row := []any{v}
			if n := testing.AllocsPerRun(5, func() { _, _ = enc.AppendKey(buf, row) }); n != 0 {
				t.Errorf("%s %v: %v allocs", kc.name, v, n)
			}
		}
	}
}
