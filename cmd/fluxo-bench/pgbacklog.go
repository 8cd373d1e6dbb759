package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL backlog: database pgBenchDB, table public.t, published by
// pgPublication.
const (
	pgBenchDB     = "bench"
	pgSchema      = "public"
	pgTable       = "t"
	pgPublication = "fluxo_bench"
)

// pgCreateSQL creates the table (the MySQL mode's ten columns in their
// PostgreSQL types) and the publication. Autovacuum would compete with the
// passes for CPU at random moments (it woke up after the big insert), so
// it is off for the table.
const pgCreateSQL = `CREATE TYPE status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE t (
  id      int PRIMARY KEY,
  qty     bigint NOT NULL,
  name    varchar(64) NOT NULL,
  amount  numeric(12,2) NOT NULL,
  created timestamp(6) NOT NULL,
  updated timestamptz NOT NULL DEFAULT now(),
  score   float8,
  flag    smallint NOT NULL,
  note    text,
  status  status NOT NULL
) WITH (autovacuum_enabled = false);
CREATE PUBLICATION ` + pgPublication + ` FOR TABLE t;`

// pgInsertSQL inserts the rows with ids %d to %d, computed by the server
// as the MySQL mode's writeRow writes them.
const pgInsertSQL = `INSERT INTO t SELECT i, i::bigint * 7, 'customer-' || lpad(i::text, 8, '0') || '-abcdefghij',
 (i %% 100000) + (i %% 100) / 100.0,
 timestamp '2024-01-01' + i * interval '1 second' + (i %% 1000000) * interval '1 microsecond',
 timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second', i + 0.25, i %% 2, 'note ' || i,
 (ARRAY['new', 'paid', 'shipped', 'cancelled']::status[])[i %% 4 + 1]
 FROM generate_series(%d, %d) i;`

// pgUpdateSet changes every non-key column but name, created and note.
const pgUpdateSet = "qty = qty + 1, amount = amount + 1, updated = updated + interval '1 second', " +
	"score = score + 0.5, flag = 1 - flag, status = CASE WHEN status = 'paid' THEN 'shipped'::status ELSE 'paid'::status END"

// pgBatchBytes is the size at which queued statements are sent as one
// multi-statement simple query.
const pgBatchBytes = 256 << 10

// pgBacklog describes the WAL written by buildPGBacklog.
type pgBacklog struct {
	Ops      opCounts
	Txs      int
	WALBytes int64
	Elapsed  time.Duration
	NextID   int // the first id the backlog never used
}

// pgBigTx describes the big transaction written by addBigTx.
type pgBigTx struct {
	Rows     int
	WALBytes int64
	Elapsed  time.Duration
}

// pgGenerator queues the backlog's transactions as SQL.
type pgGenerator struct {
	ids   idPlanner
	txs   int
	batch strings.Builder
}

// buildPGBacklog creates the table, the publication and the slots of each
// round, then commits about rows row changes in transactions of mixed
// sizes.
func buildPGBacklog(ctx context.Context, dsn string, rows, rounds int) (*pgBacklog, error) {
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := execSQL(ctx, conn, pgCreateSQL); err != nil {
		return nil, err
	}
	for i := range rounds {
		if err := createSlots(ctx, conn, i); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	lsn0, err := walLSN(ctx, conn)
	if err != nil {
		return nil, err
	}
	g := &pgGenerator{ids: newIDPlanner()}
	if err := g.run(ctx, conn, mixedSizes(rows)); err != nil {
		return nil, err
	}
	lsn1, err := walLSN(ctx, conn)
	bl := &pgBacklog{Ops: g.ids.ops, Txs: g.txs, WALBytes: int64(lsn1 - lsn0), Elapsed: time.Since(start), NextID: g.ids.hi}
	return bl, err
}

// addBigTx creates the big-transaction phase's slots, then inserts
// rows rows from id first in one statement.
func addBigTx(ctx context.Context, dsn string, first, rows int) (*pgBigTx, error) {
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := createSlots(ctx, conn, -1); err != nil {
		return nil, err
	}
	start := time.Now()
	lsn0, err := walLSN(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := execSQL(ctx, conn, fmt.Sprintf(pgInsertSQL, first, first+rows-1)); err != nil {
		return nil, fmt.Errorf("big transaction: %w", err)
	}
	lsn1, err := walLSN(ctx, conn)
	return &pgBigTx{Rows: rows, WALBytes: int64(lsn1 - lsn0), Elapsed: time.Since(start)}, err
}

// run commits one transaction per size, batching the SQL.
func (g *pgGenerator) run(ctx context.Context, conn *pgconn.PgConn, sizes []int) error {
	if err := execSQL(ctx, conn, "SET synchronous_commit = off"); err != nil {
		return err
	}
	for _, size := range sizes {
		g.queueTx(size)
		if g.batch.Len() >= pgBatchBytes {
			if err := g.flush(ctx, conn); err != nil {
				return err
			}
		}
	}
	return g.flush(ctx, conn)
}

// queueTx adds one transaction of size row changes to the batch, in
// BEGIN ... COMMIT: in a multi-statement query, statements without it
// would share one implicit transaction. A 1-row transaction decodes as an
// autocommitted statement does.
func (g *pgGenerator) queueTx(size int) {
	o, a := g.ids.next(size)
	g.batch.WriteString("BEGIN;")
	switch o {
	case opInsert:
		fmt.Fprintf(&g.batch, pgInsertSQL, a, a+size-1)
	case opUpdate:
		fmt.Fprintf(&g.batch, "UPDATE t SET %s WHERE id BETWEEN %d AND %d;", pgUpdateSet, a, a+size-1)
	case opDelete:
		fmt.Fprintf(&g.batch, "DELETE FROM t WHERE id BETWEEN %d AND %d;", a, a+size-1)
	}
	g.batch.WriteString("COMMIT;")
	g.txs++
}

// flush sends the queued statements as one query.
func (g *pgGenerator) flush(ctx context.Context, conn *pgconn.PgConn) error {
	if g.batch.Len() == 0 {
		return nil
	}
	err := execSQL(ctx, conn, g.batch.String())
	g.batch.Reset()
	if err != nil {
		return fmt.Errorf("write backlog: %w", err)
	}
	return nil
}

// createSlots creates round i's slots (see slotName) with pgoutput, as
// fluxo would.
func createSlots(ctx context.Context, conn *pgconn.PgConn, i int) error {
	for _, kind := range pgSlotKinds {
		n := slotName(kind, i)
		if err := execSQL(ctx, conn, "SELECT pg_create_logical_replication_slot('"+n+"', 'pgoutput')"); err != nil {
			return fmt.Errorf("create slot %s: %w", n, err)
		}
	}
	return nil
}

// execSQL runs sql (one or more statements) with the simple protocol.
func execSQL(ctx context.Context, conn *pgconn.PgConn, sql string) error {
	_, err := conn.Exec(ctx, sql).ReadAll()
	return err
}

// walLSN returns the server's current WAL insert position.
func walLSN(ctx context.Context, conn *pgconn.PgConn) (pglogrepl.LSN, error) {
	res, err := conn.Exec(ctx, "SELECT pg_current_wal_insert_lsn()::text").ReadAll()
	if err != nil {
		return 0, err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return 0, fmt.Errorf("pg_current_wal_insert_lsn: no row")
	}
	return pglogrepl.ParseLSN(string(res[0].Rows[0][0]))
}
