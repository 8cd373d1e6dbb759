package command

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/incremental"
)

// TestStatusSnapshot: fluxo status shows an incremental snapshot under way
// from the checkpoint's position: the table being read with its progress,
// then the queued ones.
func TestStatusSnapshot(t *testing.T) {
	pos := []byte(`{"flavor":"mariadb","server_id":"server_id=1","file":"binlog.000001","pos":4,"snapshot_done":true,` +
		`"incremental":{"tables":[{"table":{"schema":"shop","name":"orders"},"last":[{"t":"i","v":"40"}],"rows":40,"chunks":2},` +
		`{"table":{"schema":"shop","name":"items"},"rows":0,"chunks":0}]}}`)
	got := snapshotTables(kindNamed(cdc.ConnectorMySQL), pos)
	if len(got) != 2 || got[0] != (incremental.TableReport{Table: "shop.orders", RowsDone: 40, Chunks: 2, Reading: true}) ||
		got[1] != (incremental.TableReport{Table: "shop.items"}) {
		t.Fatalf("snapshot tables %+v", got)
	}
	if snapshotTables(kindNamed(cdc.ConnectorMySQL), []byte(`{"flavor":"mariadb","file":"b.1","pos":4}`)) != nil {
		t.Error("a position without a snapshot lists tables")
	}
	var b bytes.Buffer
	now := time.Now()
	printStatus(&b, StatusReport{Name: "shop", Saved: true, SavedAt: &now, Snapshot: got})
	for _, want := range []string{"snapshot:    shop.orders (incremental, reading: 40 rows in 2 chunks so far)", "             shop.items (incremental, queued)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
