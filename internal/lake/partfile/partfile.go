// Package partfile writes the data files of the bronze layer: rows of one
// table through a file format writer (Avro object container or Parquet),
// a buffer and a SHA-256 into an uncommitted, append-only object. The full
// load writes its parts with it, and fluxo sink its change files.
package partfile

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	parquet "github.com/fluxo-cdc/fluxo/internal/lake/parquet"
)

// RowWriter is a file format writer (Avro container or Parquet).
type RowWriter interface {
	// Write appends one row; a value error leaves the writer usable.
	Write(row []any) error
	// Rows returns the rows written so far.
	Rows() int64
	// Size returns the bytes written so far plus what is buffered.
	Size() int64
	// Close finishes the file; it does not close the underlying writer.
	Close() error
}

// Format says how one table's files are written.
type Format struct {
	// Format is "avro" or "parquet"; Codec the compression (bronze.compression).
	Format, Codec string
	Table         *cdc.Table
	// Namespace is the Avro namespace of the row schema.
	Namespace string
	// Meta is written into each file's metadata.
	Meta map[string]string
	// RowGroupBytes bounds what a Parquet file buffers before it writes a
	// row group (0: parquet.DefaultRowGroupSize): the memory of an open
	// Parquet file.
	RowGroupBytes int64
}

// Ext returns the file extension, without the dot.
func (f *Format) Ext() string {
	if f.Format == "parquet" {
		return "parquet"
	}
	return "avro"
}

func (f *Format) newWriter(w io.Writer) (RowWriter, error) {
	if f.Format == "parquet" {
		pw, err := parquet.NewWriter(w, f.Table, f.Codec, f.Meta)
		if err == nil && f.RowGroupBytes > 0 {
			pw.SetRowGroupSize(f.RowGroupBytes)
		}
		return pw, err
	}
	return avro.NewContainerWriter(w, f.Table, f.Namespace, f.Codec, f.Meta)
}

// Info describes a finished file.
type Info struct {
	Key    string // the object's key
	Rows   int64
	Bytes  int64
	SHA256 string // hex
}

// Part is one data file being written.
type Part struct {
	obj *bronze.Writer
	buf *bufio.Writer
	sum hash.Hash
	n   int64
	// Rows receives the file's rows.
	Rows RowWriter
}

// New starts the object at key; nothing is visible before Commit.
func New(ctx context.Context, store *bronze.Store, key string, f *Format) (*Part, error) {
	obj, err := store.NewWriter(ctx, key)
	if err != nil {
		return nil, err
	}
	p := &Part{obj: obj, sum: sha256.New()}
	p.buf = bufio.NewWriterSize(writerFunc(p.write), 1<<20)
	if p.Rows, err = f.newWriter(p.buf); err != nil {
		obj.Abort()
		return nil, err
	}
	return p, nil
}

// write feeds both the hash and the object.
func (p *Part) write(b []byte) (int, error) {
	p.sum.Write(b)
	p.n += int64(len(b))
	return p.obj.Write(b)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Key returns the object's key.
func (p *Part) Key() string { return p.obj.Key() }

// Finish completes the file's content (not yet committed) and describes it.
func (p *Part) Finish() (Info, error) {
	if err := p.Rows.Close(); err != nil {
		return Info{}, fmt.Errorf("finish %s: %w", p.obj.Key(), err)
	}
	if err := p.buf.Flush(); err != nil {
		return Info{}, fmt.Errorf("write %s: %w", p.obj.Key(), err)
	}
	return Info{Key: p.obj.Key(), Rows: p.Rows.Rows(), Bytes: p.n, SHA256: hex.EncodeToString(p.sum.Sum(nil))}, nil
}

// Commit makes the finished file visible.
func (p *Part) Commit() error { return p.obj.Commit() }

// Abort discards the file; it is a no-op after Commit.
func (p *Part) Abort() { p.obj.Abort() }
