package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// benchDB and benchTable hold the backlog's rows.
const (
	benchDB    = "bench"
	benchTable = "t"
)

// createSQL creates the table: ten columns of the usual kinds.
const createSQL = `CREATE TABLE bench.t (
  id      INT PRIMARY KEY,
  qty     BIGINT NOT NULL,
  name    VARCHAR(64) NOT NULL,
  amount  DECIMAL(12,2) NOT NULL,
  created DATETIME(6) NOT NULL,
  updated TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  score   DOUBLE,
  flag    TINYINT NOT NULL,
  note    TEXT,
  status  ENUM('new','paid','shipped','cancelled') NOT NULL
) ENGINE=InnoDB`

// updateSet changes every non-key column but name, created and note.
const updateSet = "qty = qty + 1, amount = amount + 1, updated = updated + INTERVAL 1 SECOND, " +
	"score = score + 0.5, flag = 1 - flag, status = IF(status = 'paid', 'shipped', 'paid')"

// batchBytes is the size at which queued statements are sent as one
// multi-statement query.
const batchBytes = 512 << 10

// binlogPos is a point in the binlog: file and offset, and the GTID
// position of MariaDB there.
type binlogPos struct {
	File string
	Pos  uint32
	GTID string
}

// opCounts counts row changes by operation.
type opCounts struct {
	Inserts, Updates, Deletes int64
}

// Total returns the number of row changes.
func (c opCounts) Total() int64 { return c.Inserts + c.Updates + c.Deletes }

// backlog describes the binlog built by buildBacklog.
type backlog struct {
	Start, End binlogPos
	Ops        opCounts
	Txs        int
	BigRows    int // the row changes of the single big transaction
	Elapsed    time.Duration
}

// op is the kind of statement of one generated transaction.
type op byte

const (
	opInsert op = 'c'
	opUpdate op = 'u'
	opDelete op = 'd'
)

// opFor returns the operation of the i-th transaction of a size class:
// half inserts, 30% updates, 20% deletes, interleaved (an update or delete
// that finds too few live rows becomes an insert).
func opFor(i int) op {
	switch i % 10 {
	case 1, 5, 9:
		return opUpdate
	case 3, 7:
		return opDelete
	}
	return opInsert
}

// plan returns the sizes of the backlog's transactions in execution order
// (all but the big one, see mixedSizes) and the size of the big transaction
// that ends it: 5% of the rows, at most 50,000.
func plan(rows int) (sizes []int, big int) {
	big = min(50_000, rows/20)
	return mixedSizes(rows - big), big
}

// mixedSizes returns transaction sizes adding up to rows, shuffled with a
// fixed seed: about 10% of the rows in 1-row autocommits, 26% in 10-row,
// 26% in 100-row and 37% in 1,000-row transactions.
func mixedSizes(rows int) []int {
	n1000 := rows * 35 / 95 / 1000
	n100 := rows * 25 / 95 / 100
	n10 := rows * 25 / 95 / 10
	n1 := rows - 1000*n1000 - 100*n100 - 10*n10
	var sizes []int
	for _, c := range [][2]int{{1000, n1000}, {100, n100}, {10, n10}, {1, n1}} {
		for range c[1] {
			sizes = append(sizes, c[0])
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
	return sizes
}

// idPlanner chooses the operation of each generated transaction and the
// ids it touches; the live rows are always the ids in [lo, hi).
type idPlanner struct {
	lo, hi  int
	cursor  int // next id to update
	perSize map[int]int
	ops     opCounts
}

// newIDPlanner returns a planner for an empty table whose first id is 1.
func newIDPlanner() idPlanner {
	return idPlanner{lo: 1, hi: 1, cursor: 1, perSize: map[int]int{}}
}

// next returns the operation of the next transaction of size row changes
// and the first of the size consecutive ids it touches, and accounts for
// it.
func (p *idPlanner) next(size int) (op, int) {
	o := opFor(p.perSize[size])
	p.perSize[size]++
	if o != opInsert && p.hi-p.lo < size {
		o = opInsert
	}
	first := 0
	switch o {
	case opInsert:
		first, p.hi = p.hi, p.hi+size
		p.ops.Inserts += int64(size)
	case opUpdate:
		first = p.updateStart(size)
		p.ops.Updates += int64(size)
	case opDelete:
		first, p.lo = p.lo, p.lo+size
		p.ops.Deletes += int64(size)
	}
	return o, first
}

// updateStart returns the first id of the next size live rows to update.
func (p *idPlanner) updateStart(size int) int {
	a := max(p.cursor, p.lo)
	if a+size > p.hi {
		a = p.lo
	}
	p.cursor = a + size
	return a
}

// generator writes the backlog's transactions.
type generator struct {
	conn  *client.Conn
	ids   idPlanner
	batch strings.Builder
	base  time.Time
}

// buildBacklog creates the table, then writes about rows row changes and
// returns where they are in the binlog.
func buildBacklog(ctx context.Context, addr string, rows int) (*backlog, error) {
	conn, err := connect(addr, true)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := execAll(conn, "CREATE DATABASE "+benchDB+" CHARACTER SET utf8mb4", createSQL); err != nil {
		return nil, err
	}
	g := &generator{conn: conn, ids: newIDPlanner(), base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	bl := &backlog{}
	start := time.Now()
	if bl.Start, err = currentPos(conn); err != nil {
		return nil, err
	}
	sizes, big := plan(rows)
	if err := g.run(ctx, sizes); err != nil {
		return nil, err
	}
	if err := g.bigUpdate(big); err != nil {
		return nil, err
	}
	if bl.End, err = currentPos(conn); err != nil {
		return nil, err
	}
	bl.Ops, bl.Txs, bl.BigRows, bl.Elapsed = g.ids.ops, len(sizes)+1, big, time.Since(start)
	return bl, nil
}

// run writes one transaction per size, batching the SQL.
func (g *generator) run(ctx context.Context, sizes []int) error {
	for i, size := range sizes {
		if i%1000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		g.queueTx(size)
		if g.batch.Len() >= batchBytes {
			if err := g.flush(); err != nil {
				return err
			}
		}
	}
	return g.flush()
}

// queueTx adds one transaction of size row changes to the batch: a single
// autocommitted statement for size 1, BEGIN ... COMMIT otherwise.
func (g *generator) queueTx(size int) {
	o, a := g.ids.next(size)
	if size > 1 {
		g.batch.WriteString("BEGIN;")
	}
	switch o {
	case opInsert:
		g.insert(a, size)
	case opUpdate:
		fmt.Fprintf(&g.batch, "UPDATE bench.t SET %s WHERE id BETWEEN %d AND %d;", updateSet, a, a+size-1)
	case opDelete:
		fmt.Fprintf(&g.batch, "DELETE FROM bench.t WHERE id BETWEEN %d AND %d;", a, a+size-1)
	}
	if size > 1 {
		g.batch.WriteString("COMMIT;")
	}
}

// insert queues one multi-row INSERT of the size rows from id first.
func (g *generator) insert(first, size int) {
	g.batch.WriteString("INSERT INTO bench.t VALUES ")
	for i := range size {
		if i > 0 {
			g.batch.WriteByte(',')
		}
		g.writeRow(first + i)
	}
	g.batch.WriteByte(';')
}

// statusOf returns the enum value of row id.
func statusOf(id int) string {
	return [...]string{"new", "paid", "shipped", "cancelled"}[id%4]
}

// writeRow writes the VALUES tuple of row id.
func (g *generator) writeRow(id int) {
	t := g.base.Add(time.Duration(id)*time.Second + time.Duration(id%1_000_000)*time.Microsecond)
	fmt.Fprintf(&g.batch, "(%d,%d,'customer-%08d-%s',%d.%02d,'%s','%s',%d.25,%d,'note %d','%s')",
		id, int64(id)*7, id, "abcdefghij", id%100000, id%100, t.Format("2006-01-02 15:04:05.000000"),
		t.Format(time.DateTime), id, id%2, id, statusOf(id))
}

// bigUpdate updates size live rows in one statement (one transaction).
func (g *generator) bigUpdate(size int) error {
	if g.ids.hi-g.ids.lo < size {
		return fmt.Errorf("only %d live rows for the %d-row transaction", g.ids.hi-g.ids.lo, size)
	}
	q := fmt.Sprintf("UPDATE bench.t SET %s WHERE id BETWEEN %d AND %d", updateSet, g.ids.lo, g.ids.lo+size-1)
	if _, err := g.conn.Execute(q); err != nil {
		return fmt.Errorf("big transaction: %w", err)
	}
	g.ids.ops.Updates += int64(size)
	return nil
}

// flush sends the queued statements as one multi-statement query.
func (g *generator) flush() error {
	if g.batch.Len() == 0 {
		return nil
	}
	var first error
	_, err := g.conn.ExecuteMultiple(g.batch.String(), func(_ *gomysql.Result, err error) {
		if err != nil && first == nil {
			first = err
		}
	})
	g.batch.Reset()
	if err == nil {
		err = first
	}
	if err != nil {
		return fmt.Errorf("write backlog: %w", err)
	}
	return nil
}

// connect opens a root connection in UTC, with multi-statement queries
// when multi is set.
func connect(addr string, multi bool) (*client.Conn, error) {
	var opts []client.Option
	if multi {
		opts = append(opts, func(c *client.Conn) error { return c.SetCapability(gomysql.CLIENT_MULTI_STATEMENTS) })
	}
	conn, err := client.Connect(addr, "root", "", "", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	if _, err := conn.Execute("SET time_zone = '+00:00'"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// execAll runs each statement.
func execAll(conn *client.Conn, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.Execute(q); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(q)[0], err)
		}
	}
	return nil
}

// currentPos returns the server's binlog position and GTID position.
func currentPos(conn *client.Conn) (binlogPos, error) {
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		return binlogPos{}, err
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return binlogPos{}, fmt.Errorf("SHOW MASTER STATUS: no binlog")
	}
	file, _ := r.GetString(0, 0)
	pos, _ := r.GetUint(0, 1)
	p := binlogPos{File: strings.Clone(file), Pos: uint32(pos)}
	p.GTID, err = queryValue(conn, "SELECT @@gtid_binlog_pos")
	return p, err
}

// queryValue returns the first cell of a query's result as a string.
func queryValue(conn *client.Conn, q string) (string, error) {
	r, err := conn.Execute(q)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if len(r.Values) == 0 {
		return "", fmt.Errorf("%s: no rows", q)
	}
	s, err := r.GetString(0, 0)
	return strings.Clone(s), err
}

// bigInsertSQL inserts the rows 1..%d above every id of the backlog in one
// statement (one transaction), with values like the generator's.
const bigInsertSQL = `INSERT INTO bench.t (id, qty, name, amount, created, updated, score, flag, note, status)
SELECT seq + 100000000, seq * 7, CONCAT('customer-', LPAD(seq, 8, '0'), '-abcdefghij'), (seq %% 100000) + 0.25,
  TIMESTAMP'2024-01-01 00:00:00.000000' + INTERVAL seq SECOND + INTERVAL (seq %% 1000000) MICROSECOND,
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, seq + 0.25, seq %% 2, CONCAT('note ', seq),
  ELT(seq %% 4 + 1, 'new', 'paid', 'shipped', 'cancelled')
FROM bench.seq_1_to_%d`

// writeBigInsert writes one transaction inserting rows rows and returns
// where it starts in the binlog.
func writeBigInsert(addr string, rows int) (binlogPos, error) {
	conn, err := connect(addr, true)
	if err != nil {
		return binlogPos{}, err
	}
	defer conn.Close()
	start, err := currentPos(conn)
	if err != nil {
		return start, err
	}
	if _, err := conn.Execute(fmt.Sprintf(bigInsertSQL, rows)); err != nil {
		return start, fmt.Errorf("big transaction: %w", err)
	}
	return start, nil
}
