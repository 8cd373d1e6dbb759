package postgres

import (
	"fmt"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestPositionCaptured: the captured tables travel in the checkpoint, so
// that the next start tells tables added to source.tables from the others;
// a checkpoint written before the list parses without it.
func TestPositionCaptured(t *testing.T) {
	p := &Position{SystemID: "7", Slot: "s", LSN: pglogrepl.LSN(0x16B3748), SnapshotDone: true,
		versions: map[string]int{"public.a": 1}, captured: []cdc.TableID{{Schema: "public", Name: "a"}, {Schema: "public", Name: "b"}}}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePosition(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(q.captured) != fmt.Sprint(p.captured) || q.LSN != p.LSN || q.versions["public.a"] != 1 {
		t.Errorf("round trip: %+v from %s", q, b)
	}
	old, err := ParsePosition([]byte(`{"system_id":"7","slot":"s","lsn":"0/16B3748","snapshot_done":true,"tables":{"public.a":1}}`))
	if err != nil || old.captured != nil {
		t.Errorf("an older checkpoint: %+v, %v", old, err)
	}
}
