// Package boxarena puts decoded values into interfaces (the []any rows of
// cdc) without a heap allocation per value.
//
// Converting an int64, a float64 or a string to `any` allocates a copy of
// the value on the heap (runtime.convT64, convTstring) unless the value is
// pointer-shaped. A table read decodes millions of values, and those small
// allocations were a fifth of the full load's CPU. An Arena copies each
// value into a slot of a larger block, allocated a few hundred values at a
// time, and builds the interface from a pointer to that slot, which is what
// the runtime's own conversion builds from a fresh allocation.
//
// The values are ordinary: a slot is written once, before its interface
// exists, and never again; the interface keeps its block alive for as long
// as anyone holds it. Holding one value keeps its block (a few KiB) alive.
// The PostgreSQL and MySQL table readers use it.
// An Arena is not safe for concurrent use: give each reading goroutine its
// own.
package boxarena

import (
	"math/big"
	"unsafe"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// blockValues is the number of values of one type allocated together.
const blockValues = 512

// maxSharedBytes is the longest string or byte slice copied into the shared
// byte block; a longer one gets an allocation of its own.
const maxSharedBytes = 1 << 10

// byteBlock is the size of a shared byte block.
const byteBlock = 32 << 10

// Arena boxes values. Its zero value is ready to use.
type Arena struct {
	i64   slab[int64]
	u64   slab[uint64]
	f64   slab[float64]
	f32   slab[float32]
	str   slab[string]
	bytes slab[[]byte]
	decs  slab[cdc.SmallDecimal]
	buf   []byte
}

// Int64 returns v as an interface holding an int64.
func (a *Arena) Int64(v int64) any {
	if v >= 0 && v < 256 {
		return v // the runtime boxes these without allocating
	}
	return a.i64.box(v)
}

// Uint64 returns v as an interface holding a uint64.
func (a *Arena) Uint64(v uint64) any {
	if v < 256 {
		return v
	}
	return a.u64.box(v)
}

// Float64 returns v as an interface holding a float64.
func (a *Arena) Float64(v float64) any { return a.f64.box(v) }

// Float32 returns v as an interface holding a float32.
func (a *Arena) Float32(v float32) any { return a.f32.box(v) }

// String returns a copy of b as an interface holding a string; b may be
// reused once String returns.
func (a *Arena) String(b []byte) any {
	if len(b) == 0 {
		return ""
	}
	c := a.copyBytes(b)
	return a.str.box(unsafe.String(unsafe.SliceData(c), len(c)))
}

// Bytes returns a copy of b as an interface holding a non-nil []byte of
// capacity len(b) (appending to it copies); b may be reused once Bytes
// returns.
func (a *Arena) Bytes(b []byte) any {
	if len(b) == 0 {
		return []byte{}
	}
	return a.bytes.box(a.copyBytes(b))
}

// Decimal returns u, negated when neg, as a *big.Int equal in value and
// representation to cdc.NewUnscaled's (a pointer boxes without allocating).
func (a *Arena) Decimal(u uint64, neg bool) *big.Int { return a.decs.next().Set(u, neg) }

// copyBytes copies b into the shared block, or into an allocation of its
// own when it is long. The copy's capacity is its length, so that no
// append through it can reach a neighbour.
func (a *Arena) copyBytes(b []byte) []byte {
	if len(b) > maxSharedBytes {
		return append(make([]byte, 0, len(b)), b...)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, byteBlock)
	}
	off := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[off:len(a.buf):len(a.buf)]
}

// slab hands out the elements of blocks of T, each once.
type slab[T any] struct {
	block []T
	n     int            // elements handed out
	typ   unsafe.Pointer // the runtime type of T, from an interface holding one
}

// next returns the next free element, allocating a new block when the
// current one is used up. Only n changes per call: it is not a pointer, so
// storing it needs no write barrier while the GC runs.
func (s *slab[T]) next() *T {
	if s.n == len(s.block) {
		s.block, s.n = make([]T, blockValues), 0
	}
	p := &s.block[s.n]
	s.n++
	return p
}

// box stores v in a fresh element and returns the interface pointing to it.
func (s *slab[T]) box(v T) any {
	if s.typ == nil {
		var zero T
		s.typ = typeOf(zero)
	}
	p := s.next()
	*p = v
	return pack(s.typ, unsafe.Pointer(p))
}

// eface is the runtime's layout of an interface{}: its type, and a pointer
// to its value for a value that is not pointer-shaped (every type boxed
// here).
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

func pack(typ, data unsafe.Pointer) (v any) {
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: typ, data: data}
	return v
}
