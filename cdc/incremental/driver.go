package incremental

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// ErrReadAgain is returned by a chunk's read that found its table changed
// since the source described it for the read (a column altered or renamed
// under it): the driver reads the chunk again, described anew.
var ErrReadAgain = errors.New("the table changed under the chunk's read")

// Chunk is one chunk read, waiting in its window for the stream to pass
// its high watermark.
type Chunk interface {
	// Window holds the chunk's rows, less those the stream's changes
	// replaced.
	Window() *Window
	// Last is the key of the chunk's last row, as the next read binds it
	// (nil: no row).
	Last() []any
	// Full reports whether the read returned as many rows as it asked for:
	// the table may have more.
	Full() bool
}

// Chunks is a streaming source's side of its incremental snapshot: how it
// reads chunks and places them in its stream. The Driver decides when; it
// calls every method from the source's goroutine, between transactions.
type Chunks interface {
	// StartRead prepares the read of up to n rows of cur's table in key
	// order after the key after (nil: from the first) and returns it. The
	// driver runs read in a goroutine of its own while the stream goes
	// on, so read must not touch the source's state; ctx ends when the
	// driver abandons it. The source starts recording its stream's changes
	// to the table for the chunk's window. StartRead returns an error
	// wrapping cdc.ErrTableGone when the table no longer exists; read
	// returns one wrapping cdc.ErrTableGone or ErrReadAgain when the table
	// was dropped or altered under it.
	StartRead(ctx context.Context, cur *Cursor, after []any, n int) (read func(ctx context.Context) (Chunk, error), err error)
	// Estimate is the server's estimate of the table's rows (0:
	// unknown), for progress reports; it is asked between StartRead and
	// the read, on the same connection.
	Estimate(ctx context.Context, table cdc.TableID) int64
	// OpenWindow hands a chunk just read the changes the stream recorded
	// that its read did not see.
	OpenWindow(c Chunk)
	// Passed reports whether the stream is past c's high watermark; it
	// may ask the server for its position.
	Passed(ctx context.Context, c Chunk) (bool, error)
	// Emit queues rows, what is left of c's window, as reads of c's table.
	Emit(c Chunk, rows [][]any)
	// Commit queues a commit at the stream's position, carrying the
	// driver's progress, with SaveNow or SaveSoon.
	Commit(saveNow, saveSoon bool)
	// CloseConn closes the connection that reads chunks (the next
	// StartRead opens another). reading, when not nil, is closed once the
	// read in flight ended; its context has been cancelled.
	CloseConn(reading <-chan struct{})
}

// Driver runs a streaming source's incremental snapshot (SPEC §6, after
// DBLog): it takes the tables requested through its Control, reads the
// current table in chunks (the next one while the pipeline sends the last),
// waits with each until the stream passed its high watermark and emits
// what is left of its window, advancing the cursor. A source owns one and
// calls Step between transactions.
type Driver struct {
	chunks    Chunks
	control   *Control
	log       *slog.Logger
	chunkRows int
	progress  *Progress
	chunk     Chunk // waiting for the stream to pass its high watermark
	reading   *inFlight
}

// inFlight is a chunk's read running in a goroutine.
type inFlight struct {
	table  cdc.TableID
	done   chan struct{} // closed when c and err are set
	cancel context.CancelFunc
	c      Chunk
	err    error
}

// NewDriver returns the driver of chunks' snapshot, with the work left in
// progress (nil: none), reading chunks of chunkRows rows (0:
// DefaultChunkRows), taking requests from control (nil: none).
func NewDriver(chunks Chunks, progress *Progress, chunkRows int, control *Control, log *slog.Logger) *Driver {
	return &Driver{chunks: chunks, progress: progress, chunkRows: ChunkRows(chunkRows), control: control, log: log}
}

// Progress is the work left, which positions carry (nil when none).
func (d *Driver) Progress() *Progress {
	if d == nil || d.chunk == nil && !d.progress.Pending() {
		return nil
	}
	return d.progress
}

// Idle reports whether nothing is left to read.
func (d *Driver) Idle() bool { return d == nil || d.chunk == nil && !d.progress.Pending() }

// Waiting is the chunk waiting for the stream to pass its high watermark
// (nil: none).
func (d *Driver) Waiting() Chunk {
	if d == nil {
		return nil
	}
	return d.chunk
}

// Reading reports the table whose chunk is being read, if one is.
func (d *Driver) Reading() (cdc.TableID, bool) {
	if d == nil || d.reading == nil {
		return cdc.TableID{}, false
	}
	return d.reading.table, true
}

// ReadDone is closed once the chunk read in flight is done (nil: none in
// flight, or a chunk waits for the stream, which the read's end does not
// change): a source waiting for its stream stops waiting then, between
// transactions, and calls Step.
func (d *Driver) ReadDone() <-chan struct{} {
	if d == nil || d.reading == nil || d.chunk != nil {
		return nil
	}
	return d.reading.done
}

// Step advances the snapshot; the source calls it between transactions.
// It takes new requests, starts or finishes a chunk's read, and emits the
// waiting chunk once the stream passed its high watermark. It reports
// whether it queued messages.
func (d *Driver) Step(ctx context.Context) (bool, error) {
	if d.TakeRequests() {
		d.chunks.Commit(true, false)
		return true, nil
	}
	if d.Idle() {
		d.Close()
		return false, nil
	}
	if d.chunk == nil {
		if err := d.await(ctx); err != nil {
			return false, err
		}
		switch {
		case d.chunk == nil && d.reading != nil:
			return false, nil // the stream reads on while the chunk is read
		case d.chunk == nil: // the table is gone (on to the next) or changed (read again)
			return d.Step(ctx)
		}
	}
	if passed, err := d.chunks.Passed(ctx, d.chunk); err != nil || !passed {
		return false, err
	}
	if d.chunk.Window().Stale() { // the table was altered inside the window: read both chunks again
		d.chunk = nil
		d.dropConn()
		return false, nil
	}
	d.emit()
	if d.progress.Pending() && d.reading == nil {
		return true, d.startRead(ctx) // the next chunk is read while the pipeline sends this one
	}
	return true, nil
}

// TakeRequests adds the tables requested since the last call to the queue
// and publishes the progress. It reports whether any were requested; the
// caller then queues a commit that checkpoints them (Step does).
func (d *Driver) TakeRequests() bool {
	next, ids := d.control.Apply(d.progress)
	if len(ids) == 0 {
		d.control.Publish(d.Progress())
		return false
	}
	d.progress = next
	d.log.Info("incremental snapshot requested", "tables", fmt.Sprint(ids), "tables_queued", len(next.Tables))
	return true
}

// await starts the next chunk's read when none is in flight, and opens
// the chunk's window once its read is done.
func (d *Driver) await(ctx context.Context) error {
	if d.reading == nil {
		if err := d.startRead(ctx); err != nil || d.reading == nil {
			return err
		}
	}
	select {
	case <-d.reading.done:
		if err := d.finishRead(); err != nil || d.chunk == nil {
			return err
		}
		d.readAhead(ctx, d.chunk)
		return nil
	default:
		return nil
	}
}

// startRead starts reading the current table's next chunk in a goroutine;
// a table that is gone ends its snapshot instead (no read in flight then).
func (d *Driver) startRead(ctx context.Context) error {
	cur := d.progress.Current()
	after, err := DecodeValues(cur.Last)
	if err != nil {
		return err
	}
	err = d.launch(ctx, cur, after)
	if errors.Is(err, cdc.ErrTableGone) {
		d.tableGone(cur)
		return nil
	}
	if err != nil {
		d.dropConn()
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, err)
	}
	return nil
}

// readAhead starts reading the chunk after c, which waits for the stream,
// so that it is read while c waits and is sent; when it cannot start, the
// chunk is read after c is sent, as without read-ahead.
func (d *Driver) readAhead(ctx context.Context, c Chunk) {
	if !c.Full() {
		return // the table ends with c
	}
	last, err := EncodeValues(c.Last())
	if err != nil {
		return
	}
	after, err := DecodeValues(last) // as the checkpointed cursor will bind it
	if err != nil {
		return
	}
	if err := d.launch(ctx, d.progress.Current(), after); err != nil && !errors.Is(err, cdc.ErrTableGone) {
		d.dropConn()
	}
}

// launch starts the read of the chunk of cur's table after the key after.
func (d *Driver) launch(ctx context.Context, cur *Cursor, after []any) error {
	read, err := d.chunks.StartRead(ctx, cur, after, d.chunkRows)
	if err != nil {
		return err
	}
	if cur.Chunks == 0 && cur.Estimate == 0 {
		d.progress = d.progress.Estimated(d.chunks.Estimate(ctx, cur.Table))
	}
	// The read outlives this call: its context ends with dropConn.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &inFlight{table: cur.Table, done: make(chan struct{}), cancel: cancel}
	d.reading = r
	go func() {
		defer close(r.done)
		r.c, r.err = read(rctx)
	}()
	return nil
}

// finishRead opens the window of the chunk read, or notes why there is
// none: the table is gone (on to the next) or changed (read it again).
func (d *Driver) finishRead() error {
	r, cur := d.reading, d.progress.Current()
	d.reading = nil
	r.cancel()
	switch {
	case errors.Is(r.err, cdc.ErrTableGone):
		d.tableGone(cur)
		return nil
	case errors.Is(r.err, ErrReadAgain):
		d.log.Info("incremental snapshot: the table changed under the chunk's read; reading it again", "table", cur.Table.String())
		return nil
	case r.err != nil:
		d.dropConn() // connected again for the next attempt
		return fmt.Errorf("incremental snapshot of %s: %w", cur.Table, r.err)
	}
	d.chunks.OpenWindow(r.c)
	d.chunk = r.c
	return nil
}

// emit queues the waiting chunk's rows left in its window and a commit
// whose position carries the advanced cursor.
func (d *Driver) emit() {
	c, cur := d.chunk, d.progress.Current()
	rows := c.Window().Rows()
	d.chunks.Emit(c, rows)
	last, err := EncodeValues(c.Last())
	done := !c.Full() || err != nil
	if err != nil {
		d.log.Warn("incremental snapshot: the key cannot be saved; the table was read to here and ends",
			"table", cur.Table.String(), cdc.LogError, err.Error())
	}
	d.progress = d.progress.Advance(last, len(rows), done)
	d.chunk = nil
	if done {
		d.log.Info("incremental snapshot of a table complete", "table", cur.Table.String(), "rows", cur.Rows+int64(len(rows)),
			"chunks", cur.Chunks+1, "tables_left", len(d.progress.Tables))
	}
	d.chunks.Commit(false, true)
}

// tableGone ends the snapshot of a table dropped (or renamed) while it was
// being read: the stream carries what happened to it.
func (d *Driver) tableGone(cur *Cursor) {
	d.log.Warn("incremental snapshot: the table no longer exists; its snapshot ends", "table", cur.Table.String(), "rows_done", cur.Rows)
	d.progress = d.progress.Advance(nil, 0, true)
}

// RetryRead drops the chunk connection and starts the current chunk's
// read again (after the connection was lost).
func (d *Driver) RetryRead(ctx context.Context) error {
	d.dropConn()
	if d.Idle() || d.chunk != nil {
		return nil
	}
	return d.startRead(ctx)
}

// dropConn ends the read in flight (which is then forgotten) and closes
// the chunk connection.
func (d *Driver) dropConn() {
	var reading <-chan struct{}
	if r := d.reading; r != nil {
		r.cancel()
		reading = r.done
		d.reading = nil
	}
	d.chunks.CloseConn(reading)
}

// Close ends the snapshot's read in flight and closes its connection.
func (d *Driver) Close() {
	if d != nil {
		d.dropConn()
	}
}
