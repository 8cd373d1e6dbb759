package avro

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// ContainerBlockSize is the uncompressed size at which ContainerWriter ends
// a data block: a block holds the rows encoded until its size reaches this,
// so it exceeds it by less than one row.
const ContainerBlockSize = 1 << 20

// containerCodecs maps the codec names of the configuration (bronze.
// compression) to the Avro codec names written as avro.codec.
var containerCodecs = []struct{ name, avro string }{
	{"snappy", "snappy"},
	{"zstd", "zstandard"},
	{"deflate", "deflate"},
	{"none", "null"},
}

// Object container file framing (Avro specification, "Object Container
// Files").
const (
	ocfMagic = "Obj\x01"
	syncSize = 16
	// blockHeadRoom is reserved in front of a compressed block for its
	// header, two longs of at most 10 bytes each.
	blockHeadRoom = 2 * binary.MaxVarintLen64
)

// errWriterClosed is returned by Write after Close.
var errWriterClosed = errors.New("avro: write to a closed ContainerWriter")

// ContainerWriter writes the rows of one table as an Avro object container
// file whose schema is RowSchema. Rows are encoded into a data block that
// is compressed and written to the underlying writer once it reaches
// ContainerBlockSize; the compression and the write of a full block happen
// on a background goroutine while the next block is being encoded.
//
// A ContainerWriter is not safe for concurrent use. The underlying writer
// is written from the background goroutine, one block at a time, so it must
// not be used by anyone else until Close returns.
type ContainerWriter struct {
	w         io.Writer
	enc       *Encoder
	codec     string // the configuration name, see containerCodecs
	sync      [syncSize]byte
	blockSize int // ContainerBlockSize; tests lower it

	block     []byte // the open block: the encoded rows
	blockRows int64  // rows in block
	rows      int64  // rows accepted, see Rows
	spare     []byte // the other block buffer; nil while a flush holds it

	// flushed is the number of bytes written to w plus the uncompressed
	// size of the block being flushed, if any (see Size). The flush adds
	// the difference once its block is written.
	flushed  atomic.Int64
	flushing bool             // a background flush is in flight
	done     chan flushResult // its result; buffered, so it never blocks
	failed   atomic.Bool      // set by a failed flush before it reports
	err      error            // sticky: the first failure to write w
	closed   bool             // Close was called
	closeErr error            // what Close returned

	// Compression state, used by one flush at a time (flushes are
	// serialised: a new one starts only after the previous one reported).
	out    []byte        // the framed, compressed block
	deflat *flate.Writer // created on the first deflate block
	sink   appendWriter  // deflat's output
}

// flushResult is what a background flush reports: the block buffer it is
// done with, and its error.
type flushResult struct {
	buf []byte
	err error
}

// NewContainerWriter writes the header of an Avro object container file
// for the rows of t to w and returns the writer of its data blocks. The
// header holds avro.schema (RowSchema(t, namespace)), avro.codec, every
// entry of meta (whose keys may not start with "avro.", reserved by the
// Avro specification) in key order, and a random sync marker. codec is
// "snappy", "zstd" (Avro codec zstandard), "deflate" or "none" (Avro codec
// null). It fails on an unknown codec, a reserved meta key, a table
// RowSchema or NewEncoder rejects, or a failed write of the header. w is
// never closed by the ContainerWriter.
func NewContainerWriter(w io.Writer, t *cdc.Table, namespace, codec string, meta map[string]string) (*ContainerWriter, error) {
	avroCodec := ""
	for _, c := range containerCodecs {
		if c.name == codec {
			avroCodec = c.avro
		}
	}
	if avroCodec == "" {
		names := make([]string, len(containerCodecs))
		for i, c := range containerCodecs {
			names[i] = c.name
		}
		return nil, fmt.Errorf("avro: unknown container codec %q (valid: %s)", codec, strings.Join(names, ", "))
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if strings.HasPrefix(k, "avro.") {
			return nil, fmt.Errorf("avro: container metadata key %q: the prefix avro. is reserved", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	schema, err := RowSchema(t, namespace)
	if err != nil {
		return nil, err
	}
	// The connector only matters to AppendValue, which is not used here.
	enc, err := NewEncoder(t, cdc.ConnectorMySQL)
	if err != nil {
		return nil, err
	}
	cw := &ContainerWriter{w: w, enc: enc, codec: codec, blockSize: ContainerBlockSize,
		done: make(chan flushResult, 1)}
	_, _ = rand.Read(cw.sync[:]) // never fails (crypto/rand since Go 1.24)

	h := append([]byte(nil), ocfMagic...)
	h = appendLong(h, int64(2+len(keys)))
	h = appendString(appendString(h, "avro.schema"), schema)
	h = appendString(appendString(h, "avro.codec"), avroCodec)
	for _, k := range keys {
		h = appendString(appendString(h, k), meta[k])
	}
	h = append(h, 0) // end of the metadata map
	h = append(h, cw.sync[:]...)
	n, err := w.Write(h)
	cw.flushed.Add(int64(n))
	if err != nil {
		return nil, fmt.Errorf("avro: writing container header: %w", err)
	}
	return cw, nil
}

// Write appends row, a full row of the table (one value per column, nil
// for NULL, Go types as cdc.Kind documents), to the open block, and hands
// the block to the background flush once it is full. A row the encoder
// rejects (wrong type, value out of range) is not written: the error names
// table.column and the writer stays usable. A failure to write w (possibly
// of an earlier block, reported by the background flush) is returned by
// this and every later Write and by Close; the file is then incomplete.
// Write does not allocate per row once the block buffers have grown to
// size; handing off a full block costs one goroutine.
func (cw *ContainerWriter) Write(row []any) error {
	if cw.closed {
		return errWriterClosed
	}
	if cw.err != nil {
		return cw.err
	}
	if cw.failed.Load() {
		return cw.wait()
	}
	if cw.block == nil {
		cw.block = make([]byte, 0, cw.blockSize+cw.blockSize/8)
	}
	b, err := cw.enc.AppendRow(cw.block, row)
	cw.block = b // on error, the block as it was (perhaps regrown)
	if err != nil {
		return err
	}
	cw.blockRows++
	cw.rows++
	if len(b) >= cw.blockSize {
		return cw.startFlush()
	}
	return nil
}

// Rows returns the number of rows written so far (accepted by Write),
// including those of the open block.
func (cw *ContainerWriter) Rows() int64 { return cw.rows }

// Size returns an estimate of the file's size so far, for bounding part
// files: the bytes written to w, plus the uncompressed size of the block
// being flushed in the background, if any, plus the uncompressed size of
// the open block. After Close it is exactly the number of bytes written.
func (cw *ContainerWriter) Size() int64 { return cw.flushed.Load() + int64(len(cw.block)) }

// Close writes the open block, if it holds any row (an empty block is never
// written), waits for the background flush and returns the first error met
// writing w. A writer without rows leaves a valid file of header only.
// Close does not close w. Later calls return the same result.
func (cw *ContainerWriter) Close() error {
	if cw.closed {
		return cw.closeErr
	}
	cw.closed = true
	err := cw.wait()
	if err == nil && cw.blockRows > 0 {
		n, werr := cw.writeBlock(cw.block, cw.blockRows)
		cw.flushed.Add(int64(n))
		if werr != nil {
			cw.err = werr
			err = werr
		}
	}
	cw.block, cw.spare, cw.out, cw.deflat, cw.blockRows = nil, nil, nil, nil, 0
	cw.closeErr = err
	return err
}

// startFlush hands the open block to a background flush, after waiting for
// the previous one, and opens the next block in the spare buffer.
func (cw *ContainerWriter) startFlush() error {
	if err := cw.wait(); err != nil {
		return err
	}
	data, rows := cw.block, cw.blockRows
	cw.block, cw.spare, cw.blockRows = cw.spare[:0], nil, 0
	if cw.block == nil {
		cw.block = make([]byte, 0, cap(data))
	}
	cw.flushed.Add(int64(len(data)))
	cw.flushing = true
	go func() {
		n, err := cw.writeBlock(data, rows)
		cw.flushed.Add(int64(n - len(data)))
		if err != nil {
			cw.failed.Store(true)
		}
		cw.done <- flushResult{buf: data, err: err}
	}()
	return nil
}

// wait waits for the background flush, if any, takes back its buffer and
// returns the sticky error.
func (cw *ContainerWriter) wait() error {
	if cw.flushing {
		r := <-cw.done
		cw.flushing = false
		cw.spare = r.buf
		if r.err != nil && cw.err == nil {
			cw.err = r.err
		}
	}
	return cw.err
}

// writeBlock compresses data, the encoding of rows rows, frames it as a
// data block (row count, compressed size, data, sync marker) and writes it
// to w in one Write. It returns the number of bytes written.
func (cw *ContainerWriter) writeBlock(data []byte, rows int64) (int, error) {
	out := slices.Grow(cw.out[:0], blockHeadRoom+len(data)+len(data)/8+64)[:blockHeadRoom]
	switch cw.codec {
	case "none":
		out = append(out, data...)
	case "snappy":
		// s2's Snappy-compatible encoder: the same format as
		// golang/snappy's, in about half its CPU.
		n := s2.MaxEncodedLen(len(data))
		out = slices.Grow(out, n+crc32.Size)
		out = out[:len(out)+len(s2.EncodeSnappy(out[len(out):len(out)+n], data))]
		out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
	case "zstd":
		out = zstdEncoder().EncodeAll(data, out)
	case "deflate":
		cw.sink = out
		if cw.deflat == nil {
			var err error
			if cw.deflat, err = flate.NewWriter(&cw.sink, flate.DefaultCompression); err != nil {
				return 0, fmt.Errorf("avro: deflate: %w", err)
			}
		} else {
			cw.deflat.Reset(&cw.sink)
		}
		_, _ = cw.deflat.Write(data) // sink never fails
		_ = cw.deflat.Close()
		out = cw.sink
		cw.sink = nil
	}
	var head [blockHeadRoom]byte
	h := appendLong(appendLong(head[:0], rows), int64(len(out)-blockHeadRoom))
	start := blockHeadRoom - len(h)
	copy(out[start:], h)
	out = append(out, cw.sync[:]...)
	cw.out = out
	n, err := cw.w.Write(out[start:])
	if err != nil {
		return n, fmt.Errorf("avro: writing container block: %w", err)
	}
	return n, nil
}

// appendWriter is an io.Writer appending to itself.
type appendWriter []byte

// Write implements io.Writer; it never fails.
func (a *appendWriter) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

// zstdEncoder is the process's zstd block compressor: EncodeAll is safe
// for concurrent use, and one encoder per CPU bounds its memory however
// many files are open.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		panic("avro: zstd encoder: " + err.Error()) // only on invalid options
	}
	return e
})
