package boxarena

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestValues: each boxed value equals the one the runtime boxes, has the
// same dynamic type, and survives garbage collections after the arena is
// gone and after the caller's buffer was overwritten.
func TestValues(t *testing.T) {
	long := strings.Repeat("x", maxSharedBytes+1)
	inputs := []any{
		int64(0), int64(255), int64(256), int64(-1), int64(math.MinInt64), int64(math.MaxInt64),
		uint64(0), uint64(255), uint64(256), uint64(math.MaxUint64),
		float64(0), math.Pi, math.Inf(-1), float32(1.5), float32(-0.25),
		"", "a", "héllo", long,
		[]byte{}, []byte{1, 2, 3}, []byte(long),
	}
	var got []any
	func() {
		var a Arena
		scratch := make([]byte, 0, 64)
		for round := 0; round < 3*blockValues; round++ { // several blocks of each type
			for _, in := range inputs {
				got = append(got, box(&a, in, &scratch))
			}
		}
	}()
	runtime.GC()
	runtime.GC()
	for i, g := range got {
		want := inputs[i%len(inputs)]
		if fmt.Sprintf("%T", g) != fmt.Sprintf("%T", want) {
			t.Fatalf("value %d: type %T, want %T", i, g, want)
		}
		if b, ok := want.([]byte); ok {
			if !bytes.Equal(g.([]byte), b) {
				t.Fatalf("value %d: %v, want %v", i, g, want)
			}
			continue
		}
		if g != want {
			t.Fatalf("value %d: %v, want %v", i, g, want)
		}
	}
}

// box boxes in through a, passing strings and bytes in a buffer that is
// overwritten afterwards, as a protocol buffer is.
func box(a *Arena, in any, scratch *[]byte) any {
	defer func() {
		for i := range *scratch {
			(*scratch)[i] = '!'
		}
	}()
	switch v := in.(type) {
	case int64:
		return a.Int64(v)
	case uint64:
		return a.Uint64(v)
	case float64:
		return a.Float64(v)
	case float32:
		return a.Float32(v)
	case string:
		*scratch = append((*scratch)[:0], v...)
		return a.String(*scratch)
	case []byte:
		*scratch = append((*scratch)[:0], v...)
		return a.Bytes(*scratch)
	}
	panic(fmt.Sprintf("no box for %T", in))
}

// TestDecimal: Decimal equals cdc.NewUnscaled in value and representation.
func TestDecimal(t *testing.T) {
	var a Arena
	for _, c := range []struct {
		u   uint64
		neg bool
	}{{0, false}, {0, true}, {1, false}, {12345, true}, {math.MaxUint64, false}, {math.MaxUint64, true}} {
		for i := 0; i < blockValues+1; i++ {
			got, want := a.Decimal(c.u, c.neg), cdc.NewUnscaled(c.u, c.neg)
			if got.Cmp(want) != 0 || !reflect.DeepEqual(got.Bits(), want.Bits()) {
				t.Fatalf("Decimal(%d, %v) = %v %v, want %v %v", c.u, c.neg, got, got.Bits(), want, want.Bits())
			}
		}
	}
}

// TestBytesIsolated: appending to a returned slice never writes into the
// value boxed next to it.
func TestBytesIsolated(t *testing.T) {
	var a Arena
	first := a.Bytes([]byte("ab")).([]byte)
	second := a.String([]byte("cd")).(string)
	_ = append(first, 'X', 'Y')
	if second != "cd" {
		t.Fatalf("neighbour changed to %q", second)
	}
}

// TestAllocations: boxing costs far less than an allocation per value.
func TestAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate differently")
	}
	var a Arena
	text := []byte("some text value")
	const perRun = 1000
	allocs := testing.AllocsPerRun(20, func() {
		for i := 0; i < perRun; i++ {
			_ = a.Int64(int64(i) * 1000)
			_ = a.Float64(float64(i))
			_ = a.String(text)
		}
	})
	// Blocks: 3 per 256 numbers and strings, 1 per 2,184 strings' bytes.
	if allocs > perRun*3/50 {
		t.Fatalf("%.0f allocations for %d values; want at most %d", allocs, 3*perRun, perRun*3/50)
	}
}

func BenchmarkBox(b *testing.B) {
	text := []byte("some text value")
	b.Run("runtime", func(b *testing.B) {
		var sink any
		for i := 0; i < b.N; i++ {
			sink = int64(i) * 1000
			sink = float64(i)
			sink = string(text)
		}
		_ = sink
	})
	b.Run("arena", func(b *testing.B) {
		var a Arena
		var sink any
		for i := 0; i < b.N; i++ {
			sink = a.Int64(int64(i) * 1000)
			sink = a.Float64(float64(i))
			sink = a.String(text)
		}
		_ = sink
	})
}
