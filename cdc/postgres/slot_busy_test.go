package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/cdc/cdctest"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// TestSlotHeldByAnother: a source whose slot another process streams from
// (an earlier fluxo process of the stream, stopping after a takeover)
// waits for the slot instead of failing, and streams once it is released.
func TestSlotHeldByAnother(t *testing.T) {
	p := testserver.PostgresT(t, testserver.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Exec(ctx, "CREATE DATABASE slotbusy"); err != nil {
		t.Fatal(err)
	}
	h := &harness{dsn: p.SuperuserDSN("slotbusy")}
	f := h.Fixture(t).(*fixture)
	f.Exec(t, "CREATE TABLE t (id INT PRIMARY KEY)")
	first := f.Open(t, cdctest.OpenOptions{Snapshot: cdc.SnapshotNever}) // creates the slot
	start, err := first.Next(ctx)                                        // snapshot.mode never: the start, to save at once
	if err != nil || start.Commit == nil {
		t.Fatalf("first message %+v, %v: want the start's commit", start, err)
	}
	cp, err := start.Commit.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	first.Close()

	holder, err := pgconn.Connect(ctx, strings.Replace(h.dsn, "?", "?replication=database&", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := pglogrepl.StartReplication(ctx, holder, f.name, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + f.name + "'"}}); err != nil {
		t.Fatal(err)
	}
	src := f.Open(t, cdctest.OpenOptions{Checkpoint: cp})
	defer src.Close()
	f.Exec(t, "INSERT INTO t VALUES (1)")
	go func() {
		time.Sleep(2 * time.Second)
		holder.Close(context.Background()) // the other process stops
	}()
	for {
		msg, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next while another process held the slot: %v", err)
		}
		if msg.Event != nil {
			if msg.Event.After[0] != int64(1) {
				t.Fatalf("got %v", msg.Event.After)
			}
			return
		}
	}
}
