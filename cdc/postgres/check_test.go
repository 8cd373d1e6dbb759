package postgres

import (
	"errors"
	"github.com/fluxo-cdc/fluxo/cdc"
	"strings"
	"testing"
)

// TestVerifyResume: each reason a slot cannot resume a checkpoint is a
// cdc.PermanentError naming the cause and the fix.
func TestVerifyResume(t *testing.T) {
	cp := &Position{SystemID: "7001", Slot: "fluxo_shop", LSN: 0x1000, SnapshotDone: true}
	good := slot{exists: true, plugin: "pgoutput", database: "shop", confirmed: 0x0F00, walStatus: "reserved"}
	tests := []struct {
		name     string
		sl       slot
		systemID string
		want     []string // empty: resumable
	}{
		{"resumable", good, "7001", nil},
		{"confirmed up to the checkpoint", func() slot { s := good; s.confirmed = 0x1000; return s }(), "7001", nil},
		{"other server", good, "7002", []string{"belongs to server 7001", "delete the checkpoint file"}},
		{"slot gone", slot{}, "7001", []string{"is gone", "delete the checkpoint file"}},
		{"other plugin", func() slot { s := good; s.plugin = "wal2json"; return s }(), "7001", []string{"wal2json", "its own slot"}},
		{"other database", func() slot { s := good; s.database = "crm"; return s }(), "7001", []string{"database crm", "its own slot"}},
		{"slot ahead", func() slot { s := good; s.confirmed = 0x2000; return s }(), "7001", []string{"ahead of the checkpoint", "no other client"}},
		{"slot invalidated", func() slot { s := good; s.walStatus = "lost"; return s }(), "7001", []string{"wal_status lost", "pg_drop_replication_slot('fluxo_shop')", "max_slot_wal_keep_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyResume(cp, tc.sl, tc.systemID, "shop", "fluxo_shop")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *cdc.PermanentError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a cdc.PermanentError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
}
