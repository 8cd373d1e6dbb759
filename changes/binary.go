package changes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// errShort is a value that ends before its encoding does.
var errShort = errors.New("the value ends early")

// reader reads the Avro binary encoding from a byte slice.
type reader struct {
	b   []byte
	a   *boxarena.Arena // boxes the values read
	err error           // sticky: the first failure; later reads return zero values
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// long reads a zig-zag varint (Avro int and long).
func (r *reader) long() int64 {
	u, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(fmt.Errorf("bad varint: %w", errShort))
		return 0
	}
	r.b = r.b[n:]
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a length or item count, which may not be negative.
func (r *reader) count() int {
	n := r.long()
	if n < 0 {
		r.fail(fmt.Errorf("negative length %d", n))
		return 0
	}
	if n > int64(len(r.b)) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed byte string; the result aliases the input.
func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	return r.fixed(n)
}

func (r *reader) fixed(n int) []byte {
	if n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) boolean() bool {
	b := r.fixed(1)
	return len(b) == 1 && b[0] != 0
}

func (r *reader) float() float32 {
	b := r.fixed(4)
	if len(b) < 4 {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func (r *reader) double() float64 {
	b := r.fixed(8)
	if len(b) < 8 {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// blocks reads the blocks of an array or a map, calling item once per
// item; a negative block count is followed by the block's size in bytes.
func (r *reader) blocks(item func()) {
	for r.err == nil {
		n := r.long()
		if n == 0 {
			return
		}
		if n < 0 {
			n = -n
			r.long() // the block's size, not needed
		}
		for range n {
			if r.err != nil {
				return
			}
			item()
		}
	}
}
