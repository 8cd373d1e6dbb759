package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// snapshotter reads the captured tables with parallel workers and hands the
// rows over as messages, bracketed by the commits described at
// startSnapshot.
type snapshotter struct {
	items  chan snapItem
	cancel context.CancelFunc
	done   chan struct{}
}

type snapItem struct {
	msg cdc.Message
	err error
}

// startSnapshot reads every captured table, then lets the stream start at
// lsn.
//
// With name set, the workers import that exported snapshot, which is
// consistent with lsn. Without, each reads a fresh snapshot taken after lsn;
// the stream then replays every change since lsn after the rows, so the
// topic still converges on the table (this is how a crashed snapshot is
// retried: nothing deleted in between is missed). With first set, the
// snapshot's start is checkpointed before any row (SaveNow), so that a crash
// retries it instead of skipping it.
func (s *Source) startSnapshot(ctx context.Context, ids []cdc.TableID, name string, lsn pglogrepl.LSN, first bool) error {
	states := make([]*tableReader, len(ids))
	for i, id := range ids {
		cols, err := snapshotColumns(ctx, s.meta, id)
		if err != nil {
			return err
		}
		rs, err := s.buildRelation(ctx, id, cols)
		if err != nil {
			return err
		}
		if states[i], err = s.tableReader(ctx, rs, cols); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	sn := &snapshotter{items: make(chan snapItem, 1024), cancel: cancel, done: make(chan struct{})}
	var begin *Position
	if first {
		begin = s.position(lsn, false)
	}
	end := s.position(lsn, true)
	s.log.Info("snapshot started", "tables", len(states), "workers", min(s.opts.Parallelism, len(states)),
		"exported_snapshot", name != "", "stream_from", lsn.String())
	go sn.run(runCtx, s, states, name, begin, end)
	s.snap = sn
	return nil
}

// run starts the workers and forwards their rows, one held back so the
// last can be marked.
func (sn *snapshotter) run(ctx context.Context, s *Source, states []*tableReader, name string, begin, end *Position) {
	defer close(sn.done)
	defer close(sn.items)
	send := func(it snapItem) bool {
		select {
		case sn.items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if begin != nil && !send(snapItem{msg: cdc.Message{Commit: begin, SaveNow: true}}) {
		return
	}
	rows := make(chan snapItem, 256)
	go runWorkers(ctx, s, states, name, rows)
	var held *cdc.Event
	for it := range rows {
		if it.err != nil {
			send(it)
			return
		}
		if held != nil && !send(snapItem{msg: cdc.Message{Event: held}}) {
			return
		}
		held = it.msg.Event
	}
	if ctx.Err() != nil {
		return
	}
	if held != nil {
		held.Source.Snapshot = cdc.SnapshotLast
		if !send(snapItem{msg: cdc.Message{Event: held}}) {
			return
		}
	}
	send(snapItem{msg: cdc.Message{Commit: end, SaveNow: true}})
}

// runWorkers reads the tables with up to Parallelism connections and closes
// out when all are read or one failed.
func runWorkers(ctx context.Context, s *Source, states []*tableReader, name string, out chan<- snapItem) {
	defer close(out)
	queue := make(chan *tableReader, len(states))
	for _, st := range states {
		queue <- st
	}
	close(queue)
	var wg sync.WaitGroup
	for range min(s.opts.Parallelism, len(states)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker(ctx, s, name, queue, out); err != nil {
				select {
				case out <- snapItem{err: err}:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
}

// worker opens its own connection in the snapshot and reads tables from
// queue.
func worker(ctx context.Context, s *Source, name string, queue <-chan *tableReader, out chan<- snapItem) error {
	conn, err := connect(ctx, s.opts.DSN, s.opts.ReadTimeout)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return fmt.Errorf("snapshot: begin: %w", err)
	}
	if name != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+name+"'"); err != nil {
			return fmt.Errorf("snapshot: import snapshot %s: %w", name, err)
		}
	}
	start := time.Now().UnixMilli()
	for st := range queue {
		if err := readTable(ctx, conn, s.dbName, st, start, out); err != nil {
			return fmt.Errorf("snapshot of %s: %w", st.table.ID, err)
		}
	}
	return nil
}

// readTable streams one table's rows as snapshot reads.
func readTable(ctx context.Context, conn *pgx.Conn, db string, r *tableReader, startMs int64, out chan<- snapItem) error {
	return r.read(ctx, conn.PgConn(), r.query("", ""), nil, false, func(row []any) error {
		ev := &cdc.Event{Op: cdc.OpRead, Table: r.table, After: slices.Clone(row), Source: cdc.SourceInfo{TsMs: startMs,
			Snapshot: cdc.SnapshotTrue, DB: db, Schema: r.table.ID.Schema, Table: r.table.ID.Name}}
		select {
		case out <- snapItem{msg: cdc.Message{Event: ev}}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func (sn *snapshotter) close() {
	sn.cancel()
	for range sn.items { // unblock the goroutines
	}
	<-sn.done
}

// fillSnapshot moves the next snapshot message into pending.
func (s *Source) fillSnapshot(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case it, ok := <-s.snap.items:
		if !ok {
			s.snap.close()
			s.snap = nil
			if s.opts.Snapshot == cdc.SnapshotInitialOnly && s.last.SnapshotDone {
				s.done = true
			}
			return nil
		}
		if it.err != nil {
			return s.retrySnapshot(ctx, it.err)
		}
		s.opts.Health.Heard(cdc.ComponentSource)
		if p, ok := it.msg.Commit.(*Position); ok {
			s.last = p
			if p.SnapshotDone {
				s.log.Info("snapshot complete", "position", p.String())
			}
		}
		s.pending.Push(it.msg)
		return nil
	}
}

// retrySnapshot takes the snapshot again after it lost a connection, as a
// restart would: over new connections it reads every table in a fresh
// snapshot, then streams from the position checkpointed before the first
// row (s.last), replaying every change since, so nothing is skipped. Other
// failures are returned.
func (s *Source) retrySnapshot(ctx context.Context, cause error) error {
	if !connectionLost(cause) || s.last == nil || s.last.SnapshotDone {
		return cause
	}
	s.snap.close()
	s.snap = nil
	return cdc.Recover(ctx, s.opts.Health, s.log, "snapshot connection lost, taking the snapshot again", cause,
		connectionLost, func() error {
			if err := s.reopen(ctx); err != nil {
				return err
			}
			ids, err := capturedTables(ctx, s.meta, s.opts.Filter)
			if err != nil {
				return err
			}
			return s.startSnapshot(ctx, ids, "", s.last.LSN, false)
		}, "then_stream_from", s.last.String())
}
