package postgres

import (
	"math/big"
	"math/bits"
	"unsafe"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// valueDecoder decodes one column value of a full-load read, in binary or
// text format, boxing what it returns with bx.
type valueDecoder func(b []byte, bx *boxer) (any, error)

// textValue adapts a text decoder.
func textValue(dec textDecoder) valueDecoder {
	return func(b []byte, _ *boxer) (any, error) { return dec(b) }
}

// boxer turns decoded values into interface values without an allocation
// per value: converting an int64 (or a float, a string header, a slice
// header, a decimal) to any allocates a small heap object to point to;
// boxer instead hands out consecutive elements of arrays it allocates a
// block at a time, and builds the interface values pointing to them. The
// values are as immutable as any boxed value, since an element is never
// handed out twice; the only difference is that a value kept for long keeps
// its block (a few KiB) alive.
//
// One boxer serves one read; it is not safe for concurrent use.
type boxer struct {
	ints     slab[int64]
	floats   slab[float64]
	floats32 slab[float32]
	strs     slab[string]
	byteSls  slab[[]byte]
	decs     slab[boxedDecimal]
}

// boxBlock is the number of values in each block.
const boxBlock = 512

// eface is the layout of an empty interface value: its dynamic type and a
// pointer to its value.
type eface struct {
	typ, data unsafe.Pointer
}

// typeOf returns the type word of v's interface value.
func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	int64Type   = typeOf(int64(0))
	float64Type = typeOf(float64(0))
	float32Type = typeOf(float32(0))
	stringType  = typeOf("")
	bytesType   = typeOf([]byte(nil))
)

// box returns the interface value of type typ whose value p points to.
func box(typ, p unsafe.Pointer) (v any) {
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: typ, data: p}
	return v
}

// slab hands out the elements of blocks of T one at a time.
type slab[T any] struct {
	block []T
	n     int // elements handed out
}

// next returns the next free element, allocating a new block when the
// current one is used up. Only n changes per call: it is not a pointer, so
// storing it needs no write barrier while the GC runs.
func (s *slab[T]) next() *T {
	if s.n == len(s.block) {
		s.block, s.n = make([]T, boxBlock), 0
	}
	p := &s.block[s.n]
	s.n++
	return p
}

func (bx *boxer) int64(v int64) any {
	p := bx.ints.next()
	*p = v
	return box(int64Type, unsafe.Pointer(p))
}

func (bx *boxer) float64(v float64) any {
	p := bx.floats.next()
	*p = v
	return box(float64Type, unsafe.Pointer(p))
}

func (bx *boxer) float32(v float32) any {
	p := bx.floats32.next()
	*p = v
	return box(float32Type, unsafe.Pointer(p))
}

// string returns a string holding a copy of b.
func (bx *boxer) string(b []byte) any {
	p := bx.strs.next()
	*p = string(b)
	return box(stringType, unsafe.Pointer(p))
}

// bytes returns a copy of b (non-nil, even when empty).
func (bx *boxer) bytes(b []byte) any {
	p := bx.byteSls.next()
	*p = append(make([]byte, 0, len(b)), b...)
	return box(bytesType, unsafe.Pointer(p))
}

// boxedDecimal holds a big.Int and its one-word magnitude together, as
// cdc.NewUnscaled does.
type boxedDecimal struct {
	n big.Int
	w [1]big.Word
}

// decimal returns u, negated when neg, as a *big.Int equal in value and
// representation to cdc.NewUnscaled's.
func (bx *boxer) decimal(u uint64, neg bool) *big.Int {
	if bits.UintSize != 64 {
		return cdc.NewUnscaled(u, neg)
	}
	d := bx.decs.next()
	if u != 0 {
		d.w[0] = big.Word(u)
		d.n.SetBits(d.w[:])
	}
	if neg {
		d.n.Neg(&d.n)
	}
	return &d.n
}
