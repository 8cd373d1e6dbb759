package parquet

import (
	"errors"
	"fmt"
	"io"

	pq "github.com/parquet-go/parquet-go"
)

// chunkSize is the allocation unit of page buffers.
const chunkSize = 64 << 10

// pagePool is the parquet.BufferPool of one Writer: parquet-go keeps the
// encoded, compressed pages of the current row group in one buffer per
// column until the row group is written out. The pool counts the bytes they
// hold (for Size and the row-group bound) and recycles fixed-size chunks, so
// the memory held stays close to the bytes buffered. It is not safe for
// concurrent use, like the Writer.
type pagePool struct {
	buffered int64    // bytes held by the buffers in use
	free     [][]byte // recycled chunks
}

var _ pq.BufferPool = (*pagePool)(nil)

func (p *pagePool) GetBuffer() io.ReadWriteSeeker { return &pageBuffer{pool: p} }

func (p *pagePool) PutBuffer(b io.ReadWriteSeeker) {
	pb, ok := b.(*pageBuffer)
	if !ok || pb.pool != p {
		return
	}
	p.buffered -= pb.size
	for _, c := range pb.chunks {
		p.free = append(p.free, c[:0])
	}
	*pb = pageBuffer{}
}

func (p *pagePool) chunk() []byte {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free = p.free[:n-1]
		return c
	}
	return make([]byte, 0, chunkSize)
}

// release drops the recycled chunks.
func (p *pagePool) release() { p.free = nil }

// pageBuffer is an append-only buffer of chunks; parquet-go writes pages to
// it sequentially, then seeks to the start and copies it to the file.
type pageBuffer struct {
	pool   *pagePool
	chunks [][]byte
	size   int64
	off    int64
}

func (b *pageBuffer) Write(p []byte) (int, error) {
	if b.pool == nil {
		return 0, errors.New("parquet: page buffer used after release")
	}
	if b.off != b.size {
		return 0, fmt.Errorf("parquet: page buffer: write at %d of %d", b.off, b.size)
	}
	n := len(p)
	for len(p) > 0 {
		last := len(b.chunks) - 1
		if last < 0 || len(b.chunks[last]) == cap(b.chunks[last]) {
			b.chunks = append(b.chunks, b.pool.chunk())
			last++
		}
		c := b.chunks[last]
		k := min(cap(c)-len(c), len(p))
		b.chunks[last] = append(c, p[:k]...)
		p = p[k:]
	}
	b.size += int64(n)
	b.off = b.size
	b.pool.buffered += int64(n)
	return n, nil
}

func (b *pageBuffer) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && b.off < b.size {
		c := b.chunks[b.off/chunkSize]
		k := copy(p[n:], c[b.off%chunkSize:])
		n += k
		b.off += int64(k)
	}
	return n, nil
}

func (b *pageBuffer) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.off < b.size {
		c := b.chunks[b.off/chunkSize]
		k, err := w.Write(c[b.off%chunkSize:])
		total += int64(k)
		b.off += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (b *pageBuffer) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, fmt.Errorf("parquet: page buffer: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("parquet: page buffer: negative offset %d", offset)
	}
	b.off = min(offset, b.size)
	return b.off, nil
}
