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
	bad, err := withoutReplicaIdentity(ctx, conn, ids)
	if err != nil || len(bad) == 0 {
		return err
	}
	return replicaIdentityError(bad)
}

// replicaIdentityError is the error for tables without a replica identity.
func replicaIdentityError(bad []cdc.TableID) error {
	names := make([]string, len(bad))
	for i, id := range bad {
		names[i] = id.String()
	}
	return &cdc.PermanentError{Err: fmt.Errorf("postgres: tables without a primary key or replica identity: %s (PostgreSQL would refuse their updates and deletes once published)", strings.Join(names, ", ")),
		Fix: "run " + strings.Join(replicaIdentitySQL(bad), " ") + " (or add a primary key), or leave them out with source.exclude_tables"}
}

// withoutReplicaIdentity returns the tables of ids that have neither a
// primary key nor a replica identity.
func withoutReplicaIdentity(ctx context.Context, conn *pgx.Conn, ids []cdc.TableID) ([]cdc.TableID, error) {
	var bad []cdc.TableID
	for _, id := range ids {
		var ident string
		var hasKey bool
		err := conn.QueryRow(ctx, `SELECT c.relreplident::text,
			EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))
			FROM pg_class c WHERE c.oid = $1::regclass`, quoteID(id)).Scan(&ident, &hasKey)
		if err != nil {
			return nil, fmt.Errorf("read replica identity of %s: %w", id, err)
		}
		if ident == "n" || (ident == "d" && !hasKey) {
			bad = append(bad, id)
		}
	}
	return bad, nil
}

// replicaIdentitySQL returns the statements giving ids a full replica
// identity.
func replicaIdentitySQL(ids []cdc.TableID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "ALTER TABLE " + quoteID(id) + " REPLICA IDENTITY FULL;"
	}
	return out
}

// ensurePublication creates the publication for ids when it is missing, and
// checks that an existing one covers them.
func ensurePublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	if len(ids) == 0 {
		return &cdc.PermanentError{Err: errors.New("postgres: no table matches source.tables"), Fix: "check source.tables and source.exclude_tables (schema.table, globs allowed)"}
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

// publicationSQL is the statement that creates the publication for ids.
func publicationSQL(name string, ids []cdc.TableID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = quoteID(id)
	}
	return fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (publish_via_partition_root = true)",
		pgx.Identifier{name}.Sanitize(), strings.Join(names, ", "))
}

func createPublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	sql := publicationSQL(name, ids)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return &cdc.PermanentError{Err: fmt.Errorf("postgres: create publication %q: %w", name, err),
			Fix: "create it as the tables' owner or a superuser: " + sql}
	}
	return nil
}

func checkPublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) error {
	missing, err := missingFromPublication(ctx, conn, name, ids)
	if err != nil || len(missing) == 0 {
		return err
	}
	names := make([]string, len(missing))
	for i, id := range missing {
		names[i] = quoteID(id)
	}
	return &cdc.PermanentError{Err: fmt.Errorf("postgres: publication %q does not include %s", name, strings.Join(names, ", ")),
		Fix: fmt.Sprintf("run %s or leave the tables out of source.tables", alterPublicationSQL(name, missing))}
}

// missingFromPublication returns the tables of ids that the publication
// does not publish.
func missingFromPublication(ctx context.Context, conn *pgx.Conn, name string, ids []cdc.TableID) ([]cdc.TableID, error) {
	rows, err := conn.Query(ctx, "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", name)
	if err != nil {
		return nil, fmt.Errorf("read publication %q: %w", name, err)
	}
	have := map[cdc.TableID]bool{}
	for rows.Next() {
		var id cdc.TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			return nil, err
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []cdc.TableID
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// alterPublicationSQL is the statement that adds ids to the publication.
func alterPublicationSQL(name string, ids []cdc.TableID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = quoteID(id)
	}
	return fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s;", pgx.Identifier{name}.Sanitize(), strings.Join(names, ", "))
}

// slot is what pg_replication_slots says of fluxo's slot.
type slot struct {
	exists    bool
	plugin    string
	database  string
	confirmed pglogrepl.LSN
	walStatus string // reserved, extended, unreserved or lost (PostgreSQL 13+; "" before)
	activePID int32  // the walsender using it, 0 when none
}

func readSlot(ctx context.Context, conn *pgx.Conn, name string) (slot, error) {
	var s slot
	var confirmed, walStatus *string
	var pid *int32
	err := conn.QueryRow(ctx, `SELECT plugin, database, confirmed_flush_lsn::text, to_jsonb(s)->>'wal_status', active_pid
		FROM pg_replication_slots s WHERE slot_name = $1`, name).Scan(&s.plugin, &s.database, &confirmed, &walStatus, &pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read slot %q: %w", name, err)
	}
	s.exists = true
	if walStatus != nil {
		s.walStatus = *walStatus
	}
	if pid != nil {
		s.activePID = *pid
	}
	if confirmed != nil {
		if s.confirmed, err = pglogrepl.ParseLSN(*confirmed); err != nil {
			return s, err
		}
	}
	return s, nil
}
