package fullload

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path"

	"github.com/fluxo-cdc/fluxo/avro"
	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	parquet "github.com/fluxo-cdc/fluxo/internal/lake/parquet"
)

// rowWriter is a part file format writer (Avro container or Parquet).
type rowWriter interface {
	// Write appends one row; a value error leaves the writer usable.
	Write(row []any) error
	// Rows returns the rows written so far.
	Rows() int64
	// Size returns the bytes written so far plus what is buffered.
	Size() int64
	// Close finishes the file; it does not close the underlying writer.
	Close() error
}

// fileFormat writes one table's part files.
type fileFormat struct {
	format, codec string
	table         *cdc.Table
	namespace     string
	meta          map[string]string
}

// ext returns the part file extension.
func (f *fileFormat) ext() string {
	if f.format == "parquet" {
		return "parquet"
	}
	return "avro"
}

func (f *fileFormat) newWriter(w io.Writer) (rowWriter, error) {
	if f.format == "parquet" {
		return parquet.NewWriter(w, f.table, f.codec, f.meta)
	}
	return avro.NewContainerWriter(w, f.table, f.namespace, f.codec, f.meta)
}

// part is one data file being written: rows go through the format writer,
// a buffer and a SHA-256 into an uncommitted object.
type part struct {
	obj  *bronze.Writer
	buf  *bufio.Writer
	sum  hash.Hash
	n    int64
	rows rowWriter
}

// newPart starts the object at key.
func newPart(ctx context.Context, store *bronze.Store, key string, f *fileFormat) (*part, error) {
	obj, err := store.NewWriter(ctx, key)
	if err != nil {
		return nil, err
	}
	p := &part{obj: obj, sum: sha256.New()}
	p.buf = bufio.NewWriterSize(p.objectWriter(), 1<<20)
	if p.rows, err = f.newWriter(p.buf); err != nil {
		obj.Abort()
		return nil, err
	}
	return p, nil
}

// objectWriter returns the writer feeding both the hash and the object.
func (p *part) objectWriter() io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.sum.Write(b)
		p.n += int64(len(b))
		return p.obj.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// finish completes the file's content (not yet committed) and describes it.
func (p *part) finish(attempt int) (partInfo, error) {
	if err := p.rows.Close(); err != nil {
		return partInfo{}, fmt.Errorf("finish %s: %w", p.obj.Key(), err)
	}
	if err := p.buf.Flush(); err != nil {
		return partInfo{}, fmt.Errorf("write %s: %w", p.obj.Key(), err)
	}
	return partInfo{Path: path.Base(p.obj.Key()), Rows: p.rows.Rows(), Bytes: p.n,
		SHA256: hex.EncodeToString(p.sum.Sum(nil)), Attempt: attempt}, nil
}

// commit makes the finished file visible.
func (p *part) commit() error { return p.obj.Commit() }

// abort discards the file.
func (p *part) abort() { p.obj.Abort() }
