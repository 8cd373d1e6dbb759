package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Filter selects the captured tables, columns and keys.
type Filter = cdc.Filter

// capturedTables lists the ordinary and partitioned tables the filter
// selects (partitions are captured under their root).
func capturedTables(ctx context.Context, conn *pgx.Conn, f Filter) ([]cdc.TableID, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname `+capturableFrom+` ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var ids []cdc.TableID
	for rows.Next() {
		var id cdc.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return nil, err
		}
		if f.Match(id.Schema, id.Name) {
			ids = append(ids, id)
		}
	}
	return ids, rows.Err()
}

// capturableFrom is the FROM and WHERE clause selecting the pg_class rows
// (c, with namespace n) of the tables that can be captured: ordinary and
// partitioned tables, not partitions, outside the system schemas.
const capturableFrom = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
	AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`

func quoteID(id cdc.TableID) string {
	return pgx.Identifier{id.Schema, id.Name}.Sanitize()
}

// checkReplicaIdentity refuses tables whose updates and deletes PostgreSQL
// cannot publish (no primary key and no replica identity).
func checkReplicaIdentity(ctx context.Context, conn *pgx.Conn, ids []cdc.TableID) error {
	var bad []string
	for _, id := range ids {
		var ident string
		var hasKey bool
		err := conn.QueryRow(ctx, `SELECT c.relreplident::text,
			EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
			FROM pg_class c WHERE c.oid = $1::regclass`, quoteID(id)).Scan(&ident, &hasKey)
		if err != nil {
			return fmt.Errorf("read replica identity of %s: %w", id, err)
		}
		if ident == "n" || (ident == "d" && !hasKey) {
			bad = append(bad, id.String())
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &PermanentError{Err: fmt.Errorf("postgres: tables without a primary key or replica identity: %s (PostgreSQL would refuse their updates and deletes once published)", strings.Join(bad, ", ")),
		Fix: "run ALTER TABLE <table> REPLICA IDENTITY FULL (or add a primary key) for each, or leave them out with source.exclude_tables"}
}

// ensurePublication creates the publication for ids when it is missing, and
// checks that an existing one covers them.
func ensurePublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	if len(ids) == 0 {
		return &PermanentError{Err: errors.New("postgres: no table matches source.tables"), Fix: "check source.tables and source.exclude_tables (schema.table, globs allowed)"}
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up publication %q: %w", name, err)
	}
	if !exists {
		return createPublication(ctx, conn, name, ids)
	}
	return checkPublication(ctx, conn, name, ids)
}

func createPublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = quoteID(id)
	}
	sql := fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true)",
		pgx.Identifier{name}.Sanitize(), strings.Join(names, ", "))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return &PermanentError{Err: fmt.Errorf("postgres: create publication %q: %w", name, err),
			Fix: "create it as the tables' owner or a superuser: " + sql}
	}
	return nil
}

func checkPublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	rows, err := conn.Query(ctx, "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", name)
	if err != nil {
		return fmt.Errorf("read publication %q: %w", name, err)
	}
	have := map[cdc.TableID]bool{}
	for rows.Next() {
		var id cdc.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return err
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, quoteID(id))
		}
	}
	if len(missing) > 0 {
		return &PermanentError{Err: fmt.Errorf("postgres: publication %q does not include %s", name, strings.Join(missing, ", ")),
			Fix: fmt.Sprintf("run ALTER PUBLICATION %s ADD TABLE %s, or leave the tables out of source.tables",
				pgx.Identifier{name}.Sanitize(), strings.Join(missing, ", "))}
	}
	return nil
}

// slot is what pg_replication_slots says of fluxo's slot.
type slot struct {
	exists    bool
	plugin    string
	database  string
	confirmed pglogrepl.LSN
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (slot, error) {
	var s slot
	var confirmed *string
	err := conn.QueryRow(ctx, `SELECT plugin, database, confirmed_flush_lsn::text FROM pg_replication_slots
		WHERE slot_name = $1`, name).Scan(&s.plugin, &s.database, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read slot %q: %w", name, err)
	}
	s.exists = true
	if confirmed != nil {
		if s.confirmed, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return s, err
		}
	}
	return s, nil
}
