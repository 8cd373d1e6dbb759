// Package parquet writes the rows of one table as a Parquet file, the
// Parquet flavour of the full-load part files (SPEC §7): the same columns
// as the Avro Value record (one OPTIONAL column per table column, in source
// order, named as the source names it), with the Parquet logical types
// equivalent to the Avro mapping of SPEC §4:
//
//	cdc.Kind                 Parquet
//	int32                    INT32
//	int64                    INT64
//	uint64                   FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)
//	decimal(p,s), p <= 38    FIXED_LEN_BYTE_ARRAY(n) DECIMAL(p,s), n the fewest
//	                         bytes for p digits (big-endian two's complement)
//	decimal(p,s), p > 38     BYTE_ARRAY STRING: the exact decimal text, e.g.
//	                         "-0.005" (see MaxDecimalPrecision)
//	decimal_text             BYTE_ARRAY STRING
//	float32, float64         FLOAT, DOUBLE
//	bool                     BOOLEAN
//	bytes                    BYTE_ARRAY
//	string, uuid             BYTE_ARRAY STRING
//	date                     INT32 DATE
//	time_micros              INT64 TIME(MICROS, isAdjustedToUTC=false)
//	duration_micros          INT64 (no logical type)
//	local_timestamp_micros   INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false)
//	timestamp_micros         INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)
//	array                    LIST (3-level) of the element's mapping, elements
//	                         OPTIONAL; arrays of arrays nest
//
// Files use data pages v2 (PLAIN encoding, no dictionary) compressed with
// the configured codec, with column chunk statistics and the page index.
// The root schema element is named "schema".
package parquet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strings"
	"unsafe"

	"github.com/fluxo-cdc/fluxo/cdc"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// DefaultRowGroupSize bounds the data a Writer buffers: once the encoded,
// compressed pages of the current row group (plus an estimate of the pages
// being filled) reach it, the row group is written to the underlying
// writer. A Writer's memory is about this plus one page per column
// (pageSize, before compression), one batch of rows (batchBytes) and the
// codec's state: about 95 MiB of live heap in all for the 10-column
// benchmark table, whatever the codec.
const DefaultRowGroupSize = 64 << 20

const (
	// pageSize is parquet-go's page buffer size: a column's page is
	// compressed and set aside once its values reach it.
	pageSize = 256 << 10
	// batchRows and batchBytes bound the rows a Writer collects before
	// handing them to parquet-go, column by column (it is much faster
	// than row by row).
	batchRows  = 256
	batchBytes = 1 << 20
	// outBufferSize is the buffer in front of the underlying writer.
	outBufferSize = 64 << 10
)

// codecs maps the configuration's codec names (bronze.compression) to
// Parquet codecs. Parquet has no raw deflate codec: deflate selects GZIP,
// which is deflate in gzip framing, read by every Parquet reader.
var codecs = []struct {
	name  string
	codec compress.Codec
}{
	{"snappy", &pq.Snappy},
	{"zstd", &pq.Zstd},
	{"deflate", &pq.Gzip},
	{"none", &pq.Uncompressed},
}

// errWriterClosed is returned by Write after Close.
var errWriterClosed = errors.New("parquet: write to a closed Writer")

// Writer writes the rows of one table as a Parquet file. Rows are collected
// in small batches and handed to parquet-go column by column; encoded pages
// are buffered until the row group reaches its size bound (see
// DefaultRowGroupSize and SetRowGroupSize), then written out.
//
// A Writer is not safe for concurrent use. Strings in rows are referenced,
// not copied, until the batch they are in is encoded (Go strings are
// immutable); []byte values are copied, so callers may reuse them once
// Write returns.
type Writer struct {
	table  *cdc.Table
	leaves []*leaf
	paths  []string // "table.column", for errors
	widths []int    // per column: bytes per value for raw-size accounting, 0 if variable
	pw     *pq.Writer
	cols   []*pq.ColumnWriter
	out    *countingWriter
	pool   *pagePool

	// The batch: the values of each column, and the bytes they reference
	// (copied []byte, encoded decimals).
	vals       [][]pq.Value
	marks      []int
	arena      []byte
	batchRows  int
	batchBytes int64

	// Raw (uncompressed, estimated) bytes handed to parquet-go: per column
	// in the current row group, and in total.
	colRaw   []int64
	totalRaw int64

	rowGroupSize int64
	rows         int64
	err          error // sticky: the first failure of parquet-go or of w
	closed       bool
	closeErr     error
}

// NewWriter starts a Parquet file for the rows of t on w. codec is
// "snappy", "zstd", "deflate" (written as GZIP: Parquet has no raw deflate)
// or "none"; meta becomes the file's key-value metadata. It fails on an
// unknown codec or a table whose columns cannot be mapped. Nothing is
// written to w before the first row group or Close; w is never closed by
// the Writer.
func NewWriter(w io.Writer, t *cdc.Table, codec string, meta map[string]string) (*Writer, error) {
	var cc compress.Codec
	for _, c := range codecs {
		if c.name == codec {
			cc = c.codec
		}
	}
	if cc == nil {
		names := make([]string, len(codecs))
		for i, c := range codecs {
			names[i] = c.name
		}
		return nil, fmt.Errorf("parquet: unknown codec %q (valid: %s)", codec, strings.Join(names, ", "))
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("parquet: table %s has no columns", t.ID)
	}
	pw := &Writer{table: t, rowGroupSize: DefaultRowGroupSize, pool: new(pagePool)}
	group := make(orderedGroup, len(t.Columns))
	seen := make(map[string]bool, len(t.Columns))
	for i := range t.Columns {
		c := &t.Columns[i]
		if seen[c.Name] {
			return nil, fmt.Errorf("parquet: table %s: duplicate column %q", t.ID, c.Name)
		}
		seen[c.Name] = true
		l, node, err := planColumn(c, 0)
		if err != nil {
			return nil, fmt.Errorf("parquet: table %s: %w", t.ID, err)
		}
		group[i] = namedField{Node: node, name: c.Name}
		pw.leaves = append(pw.leaves, l)
		pw.paths = append(pw.paths, t.ID.Name+"."+c.Name)
		pw.widths = append(pw.widths, rawWidth(l))
	}
	opts := []pq.WriterOption{
		pq.NewSchema("schema", group),
		pq.Compression(cc),
		// v2, parquet-go's default, pinned: Size's estimate assumes that
		// levels are not compressed (with v1 TestRowGroups/zstd was 5.2%
		// off, over its 5% bound).
		// v1 pages are no longer corrupt (DuckDB read them as "Out of
		// buffer" on v0.26.0).
		pq.DataPageVersion(2),
		// PLAIN rather than parquet-go's default DELTA_LENGTH_BYTE_ARRAY,
		// which Spark's vectorized reader only reads since 3.3.
		pq.DefaultEncodingFor(pq.ByteArray, &pq.Plain),
		pq.PageBufferSize(pageSize),
		pq.WriteBufferSize(0), // pw.out buffers, and counts
		pq.ColumnPageBuffers(pw.pool),
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		opts = append(opts, pq.KeyValueMetadata(k, meta[k]))
	}
	config, err := pq.NewWriterConfig(opts...)
	if err != nil {
		return nil, fmt.Errorf("parquet: table %s: %w", t.ID, err)
	}
	pw.out = &countingWriter{w: bufio.NewWriterSize(w, outBufferSize)}
	pw.pw = pq.NewWriter(pw.out, config)
	pw.cols = pw.pw.ColumnWriters()
	n := len(t.Columns)
	pw.vals = make([][]pq.Value, n)
	for i := range pw.vals {
		pw.vals[i] = make([]pq.Value, 0, batchRows)
	}
	pw.marks = make([]int, n)
	pw.colRaw = make([]int64, n)
	return pw, nil
}

// SetRowGroupSize sets the buffered bytes at which a row group is written
// out (DefaultRowGroupSize unless set); n < 1 means 1, i.e. one row group
// per batch of rows. Call it before the first Write.
func (w *Writer) SetRowGroupSize(n int64) { w.rowGroupSize = max(n, 1) }

// Write adds row, a full row of the table (one value per column, nil for
// NULL, Go types as cdc.Kind documents; like the Avro encoder it also
// accepts int and int32 for int64, []byte for string and string for
// bytes). A row with a value of the wrong type or out of range is not
// written: the error names table.column and the writer stays usable. A
// failure to write the underlying writer is returned by this and every
// later Write and by Close; the file is then incomplete.
func (w *Writer) Write(row []any) error {
	if w.closed {
		return errWriterClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(row) != len(w.leaves) {
		return fmt.Errorf("parquet: table %s: row has %d values for %d columns", w.table.ID, len(row), len(w.leaves))
	}
	arenaMark, bytesMark := len(w.arena), w.batchBytes
	for i := range w.vals {
		w.marks[i] = len(w.vals[i])
	}
	for i, v := range row {
		if err := w.appendColumn(i, v); err != nil {
			for j := 0; j <= i; j++ {
				w.vals[j] = w.vals[j][:w.marks[j]]
			}
			w.arena, w.batchBytes = w.arena[:arenaMark], bytesMark
			return err
		}
	}
	w.rows++
	w.batchRows++
	if w.batchRows >= batchRows || w.batchBytes >= batchBytes {
		return w.flushBatch()
	}
	return nil
}

// Rows returns the number of rows accepted by Write so far.
func (w *Writer) Rows() int64 { return w.rows }

// Size returns an estimate of the file's size so far, for bounding part
// files: the bytes written to the underlying writer (including its buffer),
// plus the compressed pages buffered for the current row group, plus the
// values not yet in a complete page, scaled by the compression ratio seen
// so far (1 before the first page). The estimate leaves out the footer
// (schema, statistics, page index; a few hundred bytes per column and row
// group). After Close it is exactly the number of bytes written.
func (w *Writer) Size() int64 {
	if w.closed {
		return w.out.n
	}
	inPages := w.pendingRaw()
	pending := inPages + w.batchBytes
	flushedRaw := w.totalRaw - inPages
	compressed := w.out.n + w.pool.buffered
	if w.out.n >= 4 {
		compressed -= 4 // the magic number
	}
	est := float64(pending)
	if flushedRaw > 0 && compressed > 0 {
		est *= float64(compressed) / float64(flushedRaw)
	}
	return w.out.n + w.pool.buffered + int64(est)
}

// Close writes the rows still buffered and the footer, holding meta as
// key-value metadata. It returns the first error met writing the
// underlying writer, which it does not close. A writer without rows leaves
// a valid file with the schema and no row group. Later calls return the
// same result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	err := w.err
	if err == nil {
		err = w.flushBatch()
	}
	if err == nil {
		if err = w.pw.Close(); err != nil {
			err = fmt.Errorf("parquet: table %s: %w", w.table.ID, err)
		}
	}
	if err == nil {
		if err = w.out.w.Flush(); err != nil {
			err = fmt.Errorf("parquet: table %s: %w", w.table.ID, err)
		}
	}
	w.closed, w.closeErr = true, err
	w.vals, w.arena = nil, nil
	w.pool.release()
	return err
}

// appendColumn adds the value of column i to the batch.
func (w *Writer) appendColumn(i int, v any) error {
	l := w.leaves[i]
	if v == nil {
		w.vals[i] = append(w.vals[i], pq.NullValue().Level(0, 0, i))
		w.batchBytes++
		return nil
	}
	if l.elem != nil {
		if err := w.appendArray(i, l, v, 0, 1); err != nil {
			return cdc.ValueError(w.paths[i], l.col, err)
		}
		return nil
	}
	val, err := w.leafValue(l, v)
	if err != nil {
		return cdc.ValueError(w.paths[i], l.col, err)
	}
	w.vals[i] = append(w.vals[i], val.Level(0, 1, i))
	return nil
}

// appendArray adds the values of a non-null array to column col: rep is
// the repetition level of its first value, def the definition level at
// which the array is present (empty); an element is present at def+2.
func (w *Writer) appendArray(col int, l *leaf, v any, rep, def int) error {
	items, ok := v.([]any)
	if !ok {
		return &cdc.BadValue{Want: "[]any", V: v}
	}
	if len(items) == 0 {
		w.vals[col] = append(w.vals[col], pq.NullValue().Level(rep, def, col))
		w.batchBytes += 2
		return nil
	}
	for k, item := range items {
		r := rep
		if k > 0 {
			r = l.rep
		}
		if item == nil {
			w.vals[col] = append(w.vals[col], pq.NullValue().Level(r, def+1, col))
			w.batchBytes += 2
			continue
		}
		var err error
		if l.elem.elem != nil {
			err = w.appendArray(col, l.elem, item, r, def+2)
		} else {
			var val pq.Value
			if val, err = w.leafValue(l.elem, item); err == nil {
				w.vals[col] = append(w.vals[col], val.Level(r, def+2, col))
				w.batchBytes++
			}
		}
		if err != nil {
			return cdc.ValueError(fmt.Sprintf("element %d", k), l.elem.col, err)
		}
	}
	return nil
}

// leafValue converts a non-nil value of a non-array column (or element),
// adding its size to the batch.
func (w *Writer) leafValue(l *leaf, v any) (pq.Value, error) {
	switch l.col.Kind {
	case cdc.KindInt32, cdc.KindDate:
		n, ok := cdc.AsInt64(v)
		if !ok {
			return pq.Value{}, &cdc.BadValue{Want: "int64", V: v}
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return pq.Value{}, &cdc.BadValue{Why: "out of int32 range", V: v}
		}
		w.batchBytes += 5
		return pq.Int32Value(int32(n)), nil
	case cdc.KindInt64, cdc.KindTimeMicros, cdc.KindDurationMicros,
		cdc.KindLocalTimestampMicros, cdc.KindTimestampMicros:
		n, ok := cdc.AsInt64(v)
		if !ok {
			return pq.Value{}, &cdc.BadValue{Want: "int64", V: v}
		}
		w.batchBytes += 9
		return pq.Int64Value(n), nil
	case cdc.KindUint64:
		var u uint64
		switch x := v.(type) {
		case uint64:
			u = x
		case int:
			if x < 0 {
				return pq.Value{}, &cdc.BadValue{Why: "is negative", V: v}
			}
			u = uint64(x)
		case int32:
			if x < 0 {
				return pq.Value{}, &cdc.BadValue{Why: "is negative", V: v}
			}
			u = uint64(x)
		default:
			return pq.Value{}, &cdc.BadValue{Want: "uint64", V: v}
		}
		b := w.grow(uint64Bytes)
		b[0] = 0
		for i := range 8 {
			b[8-i] = byte(u >> (8 * i))
		}
		return pq.FixedLenByteArrayValue(b), nil
	case cdc.KindDecimal:
		x, ok := v.(*big.Int)
		if !ok || x == nil {
			return pq.Value{}, &cdc.BadValue{Want: "*big.Int", V: v}
		}
		if x.CmpAbs(l.limit) >= 0 {
			return pq.Value{}, &cdc.BadValue{Why: l.why, V: v}
		}
		if l.text {
			start := len(w.arena)
			w.arena = appendDecimalText(w.arena, x, l.col.Scale)
			b := w.arena[start:len(w.arena):len(w.arena)]
			w.batchBytes += int64(len(b)) + 5
			return pq.ByteArrayValue(b), nil
		}
		b := w.grow(l.size)
		putDecimal(b, x)
		return pq.FixedLenByteArrayValue(b), nil
	case cdc.KindDecimalText, cdc.KindString, cdc.KindUUID:
		switch x := v.(type) {
		case string:
			if err := cdc.CheckUTF8(x); err != nil {
				return pq.Value{}, err
			}
			w.batchBytes += int64(len(x)) + 5
			return pq.ByteArrayValue(unsafe.Slice(unsafe.StringData(x), len(x))), nil
		case []byte:
			if err := cdc.CheckUTF8Bytes(x); err != nil {
				return pq.Value{}, err
			}
			return pq.ByteArrayValue(w.copyBytes(x)), nil
		}
		return pq.Value{}, &cdc.BadValue{Want: "string", V: v}
	case cdc.KindFloat32:
		x, ok := v.(float32)
		if !ok {
			return pq.Value{}, &cdc.BadValue{Want: "float32", V: v}
		}
		w.batchBytes += 5
		return pq.FloatValue(x), nil
	case cdc.KindFloat64:
		x, ok := v.(float64)
		if !ok {
			return pq.Value{}, &cdc.BadValue{Want: "float64", V: v}
		}
		w.batchBytes += 9
		return pq.DoubleValue(x), nil
	case cdc.KindBool:
		x, ok := v.(bool)
		if !ok {
			return pq.Value{}, &cdc.BadValue{Want: "bool", V: v}
		}
		w.batchBytes += 2
		return pq.BooleanValue(x), nil
	case cdc.KindBytes:
		switch x := v.(type) {
		case []byte:
			return pq.ByteArrayValue(w.copyBytes(x)), nil
		case string:
			w.batchBytes += int64(len(x)) + 5
			return pq.ByteArrayValue(unsafe.Slice(unsafe.StringData(x), len(x))), nil
		}
		return pq.Value{}, &cdc.BadValue{Want: "[]byte", V: v}
	}
	panic("parquet: unplanned kind " + l.col.Kind.String()) // planColumn rejects the rest
}

// grow extends the arena by n bytes and returns them.
func (w *Writer) grow(n int) []byte {
	start := len(w.arena)
	w.arena = slices.Grow(w.arena, n)[:start+n]
	w.batchBytes += int64(n) + 1
	return w.arena[start : start+n : start+n]
}

// copyBytes copies b into the arena.
func (w *Writer) copyBytes(b []byte) []byte {
	start := len(w.arena)
	w.arena = append(w.arena, b...)
	w.batchBytes += int64(len(b)) + 5
	return w.arena[start:len(w.arena):len(w.arena)]
}

// flushBatch hands the batch to parquet-go, column by column, and writes
// the row group out once its buffered size reaches the bound.
func (w *Writer) flushBatch() error {
	if w.batchRows == 0 {
		return nil
	}
	for i, c := range w.cols {
		vals := w.vals[i]
		if _, err := c.WriteRowValues(vals); err != nil {
			w.err = fmt.Errorf("parquet: table %s: %w", w.table.ID, err)
			return w.err
		}
		raw := w.rawSize(i, vals)
		w.colRaw[i] += raw
		w.totalRaw += raw
		clear(vals) // drop the references to strings and the arena
		w.vals[i] = vals[:0]
	}
	w.arena = w.arena[:0]
	w.batchRows, w.batchBytes = 0, 0
	if w.pool.buffered+w.pendingRaw() < w.rowGroupSize {
		return nil
	}
	if err := w.pw.Flush(); err != nil {
		w.err = fmt.Errorf("parquet: table %s: %w", w.table.ID, err)
		return w.err
	}
	clear(w.colRaw)
	return nil
}

// pendingRaw estimates the raw bytes of the pages being filled.
func (w *Writer) pendingRaw() int64 {
	var n int64
	for _, raw := range w.colRaw {
		n += raw % pageSize
	}
	return n
}

// rawSize estimates the bytes the values of column i take in parquet-go's
// page buffer (values plus levels), as it measures pages.
func (w *Writer) rawSize(i int, vals []pq.Value) int64 {
	if width := w.widths[i]; width > 0 {
		return int64(len(vals) * width)
	}
	var n int64
	for k := range vals {
		n += int64(len(vals[k].ByteArray())) + 6
	}
	return n
}

// rawWidth returns the bytes per value of a column for rawSize (value and
// levels), or 0 when values vary in size.
func rawWidth(l *leaf) int {
	levels := 1
	for l.elem != nil {
		l, levels = l.elem, 2
	}
	switch l.col.Kind {
	case cdc.KindInt32, cdc.KindDate, cdc.KindFloat32:
		return 4 + levels
	case cdc.KindInt64, cdc.KindTimeMicros, cdc.KindDurationMicros, cdc.KindLocalTimestampMicros,
		cdc.KindTimestampMicros, cdc.KindFloat64:
		return 8 + levels
	case cdc.KindBool:
		return 1 + levels
	case cdc.KindUint64:
		return uint64Bytes + levels
	case cdc.KindDecimal:
		if !l.text {
			return l.size + levels
		}
	}
	return 0
}

// countingWriter buffers writes to the underlying writer and counts them.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
