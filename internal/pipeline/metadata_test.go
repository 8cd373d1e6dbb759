package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestTransactionTopic: each source transaction's records are framed by a
// BEGIN and an END record on <prefix>.transaction, whose counts agree with
// the transaction blocks of the records between them, which number the
// events as sent (an update that moved the key is a delete and a create).
func TestTransactionTopic(t *testing.T) {
	other := &cdc.Table{ID: cdc.TableID{Schema: "db", Name: "u"}, Columns: table.Columns, Key: table.Key}
	ev := func(op cdc.Op, tb *cdc.Table, before, after []any, tx string, total, coll int64) cdc.Message {
		return cdc.Message{Event: &cdc.Event{Op: op, Table: tb, Before: before, After: after, Source: cdc.SourceInfo{TsMs: 1000},
			Tx: &cdc.TxInfo{ID: tx, TotalOrder: total, DataCollectionOrder: coll}}}
	}
	src := &script{msgs: []cdc.Message{
		ev(cdc.OpCreate, table, nil, []any{int64(1), "x"}, "a", 1, 1),
		ev(cdc.OpUpdate, table, []any{int64(2), "x"}, []any{int64(3), "x"}, "a", 2, 2), // the key moved: two events
		ev(cdc.OpCreate, other, nil, []any{int64(9), "y"}, "a", 3, 1),
		commit("p1"),
		ev(cdc.OpCreate, table, nil, []any{int64(4), "x"}, "b", 1, 1),
		commit("p2"),
	}}
	sink := &heldSink{}
	p, err := New(Options{Name: "t", TopicPrefix: "fx", Connector: cdc.ConnectorMySQL, Tombstones: true, TransactionTopic: true,
		Source: src, Sink: sink, Registry: ids{}, Store: &memStore{}, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "10 records", func() bool { return sink.count() == 10 })
	for i := range sink.count() {
		sink.ack(i, nil)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	txValue := mustParse(t, avro.TransactionValueSchema)
	var got []string
	for _, r := range sink.recs {
		switch {
		case r.Topic == "fx.transaction":
			var v map[string]any
			if err := hamba.Unmarshal(txValue, r.Value[5:], &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %s %v %v", v["status"], v["id"], v["event_count"], v["data_collections"]))
		case r.Value == nil:
			got = append(got, "tombstone")
		default:
			tb := table
			if r.Topic == "fx.db.u" {
				tb = other
			}
			s, err := avro.ValueSchema(tb, r.Topic, cdc.ConnectorMySQL)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := hamba.Unmarshal(mustParse(t, s), r.Value[5:], &v); err != nil {
				t.Fatal(err)
			}
			tx := v["transaction"].(map[string]any)
			for _, inner := range tx { // the non-null branch of the union
				b := inner.(map[string]any)
				got = append(got, fmt.Sprintf("%s %s %v/%v", v["op"], b["id"], b["total_order"], b["data_collection_order"]))
			}
		}
	}
	want := []string{
		"BEGIN a <nil> <nil>",
		"c a 1/1", "d a 2/2", "tombstone", "c a 3/3", "c a 4/1",
		"END a 4 map[array:[map[data_collection:db.t event_count:3] map[data_collection:db.u event_count:1]]]",
		"BEGIN b <nil> <nil>", "c b 1/1", "END b 1 map[array:[map[data_collection:db.t event_count:1]]]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records:\n got %q\nwant %q", got, want)
	}
}

func mustParse(t *testing.T, schema string) hamba.Schema {
	t.Helper()
	s, err := hamba.ParseWithCache(schema, "", &hamba.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
