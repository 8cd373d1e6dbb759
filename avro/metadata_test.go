package avro

import (
	"reflect"
	"testing"

	hamba "github.com/hamba/avro/v2"
)

// TestMetadataRecords decodes the transaction and heartbeat records with
// hamba's reader and their schemas.
func TestMetadataRecords(t *testing.T) {
	tests := []struct {
		name, schema string
		data         []byte
		want         map[string]any
	}{
		{"transaction key", TransactionKeySchema, AppendTransactionKey(nil, "0-1-7"), map[string]any{"id": "0-1-7"}},
		{"BEGIN", TransactionValueSchema, AppendTransactionBegin(nil, "0-1-7", 1700000000123),
			map[string]any{"status": "BEGIN", "id": "0-1-7", "event_count": nil, "data_collections": nil, "ts_ms": int64(1700000000123)}},
		{"END", TransactionValueSchema, AppendTransactionEnd(nil, "0-1-7", 3, []DataCollection{{"shop.orders", 2}, {"shop.items", 1}}, 1700000000123),
			map[string]any{"status": "END", "id": "0-1-7", "event_count": int64(3),
				"data_collections": map[string]any{"array": []any{
					map[string]any{"data_collection": "shop.orders", "event_count": int64(2)},
					map[string]any{"data_collection": "shop.items", "event_count": int64(1)}}},
				"ts_ms": int64(1700000000123)}},
		{"END without tables", TransactionValueSchema, AppendTransactionEnd(nil, "x", 0, nil, 5),
			map[string]any{"status": "END", "id": "x", "event_count": int64(0),
				"data_collections": map[string]any{"array": []any{}}, "ts_ms": int64(5)}},
		{"heartbeat key", HeartbeatKeySchema, AppendHeartbeatKey(nil, "shop"), map[string]any{"serverName": "shop"}},
		{"heartbeat", HeartbeatValueSchema, AppendHeartbeat(nil, 42), map[string]any{"ts_ms": int64(42)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := hamba.ParseWithCache(tt.schema, "", &hamba.SchemaCache{})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := hamba.Unmarshal(s, tt.data, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
