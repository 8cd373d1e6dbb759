package parquet

import (
	"bytes"
	"math"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go v0.26.0 computes the min/max statistics of a page (which make
// the column chunk statistics and the page index) in ways that are wrong
// for two of our column types, and readers prune row groups and pages on
// them, silently dropping matching rows:
//
//   - DECIMAL over FIXED_LEN_BYTE_ARRAY is ordered as unsigned bytes, so -1
//     (0xff...) sorts above 5; the Parquet specification orders DECIMAL as
//     signed integers.
//   - FLOAT and DOUBLE pages holding NaN get wrong bounds (seen: min = max
//     = the last value), and a NaN may end up in the statistics.
//
// The wrappers below fix the page bounds, the comparison used to merge
// them into the chunk statistics, and (for decimals) the page index.

// signedDecimal is a DECIMAL over FIXED_LEN_BYTE_ARRAY whose values are
// ordered as signed big-endian two's-complement integers.
type signedDecimal struct{ pq.Type }

func (t signedDecimal) Compare(a, b pq.Value) int {
	return compareSigned(a.ByteArray(), b.ByteArray())
}

func (t signedDecimal) NewColumnBuffer(columnIndex, numValues int) pq.ColumnBuffer {
	return boundsBuffer{t.Type.NewColumnBuffer(columnIndex, numValues), decimalBounds}
}

func (t signedDecimal) NewColumnIndexer(int) pq.ColumnIndexer { return new(signedIndexer) }

// nanSafe is FLOAT or DOUBLE with page bounds that follow the Parquet
// rules: NaN is never written to min or max, a zero minimum is written as
// -0 and a zero maximum as +0. A page holding a NaN gets the bounds -Inf and
// +Inf, so that it is never pruned (DuckDB's own writer omits the
// statistics of such column chunks; parquet-go cannot).
type nanSafe struct{ pq.Type }

func (t nanSafe) NewColumnBuffer(columnIndex, numValues int) pq.ColumnBuffer {
	bounds := doubleBounds
	if t.Kind() == pq.Float {
		bounds = floatBounds
	}
	return boundsBuffer{t.Type.NewColumnBuffer(columnIndex, numValues), bounds}
}

// boundsBuffer is a column buffer whose pages compute their bounds with
// bounds.
type boundsBuffer struct {
	pq.ColumnBuffer
	bounds func(pq.Page) (min, max pq.Value, ok bool)
}

func (b boundsBuffer) Page() pq.Page { return boundsPage{b.ColumnBuffer.Page(), b.bounds} }

func (b boundsBuffer) Clone() pq.ColumnBuffer { return boundsBuffer{b.ColumnBuffer.Clone(), b.bounds} }

type boundsPage struct {
	pq.Page
	bounds func(pq.Page) (min, max pq.Value, ok bool)
}

func (p boundsPage) Bounds() (min, max pq.Value, ok bool) { return p.bounds(p.Page) }

func (p boundsPage) Slice(i, j int64) pq.Page { return boundsPage{p.Page.Slice(i, j), p.bounds} }

func decimalBounds(p pq.Page) (min, max pq.Value, ok bool) {
	values := p.Data()
	data, size := values.FixedLenByteArray()
	if size == 0 || len(data) < size {
		return min, max, false
	}
	lo, hi := data[:size], data[:size]
	for i := size; i+size <= len(data); i += size {
		v := data[i : i+size]
		if compareSigned(v, lo) < 0 {
			lo = v
		}
		if compareSigned(v, hi) > 0 {
			hi = v
		}
	}
	col := p.Column()
	return pq.FixedLenByteArrayValue(lo).Level(0, 0, col), pq.FixedLenByteArrayValue(hi).Level(0, 0, col), true
}

func doubleBounds(p pq.Page) (min, max pq.Value, ok bool) {
	values := p.Data()
	lo, hi, ok := floatRange(values.Double())
	if !ok {
		return min, max, false
	}
	col := p.Column()
	return pq.DoubleValue(lo).Level(0, 0, col), pq.DoubleValue(hi).Level(0, 0, col), true
}

func floatBounds(p pq.Page) (min, max pq.Value, ok bool) {
	values := p.Data()
	lo, hi, ok := floatRange(values.Float())
	if !ok {
		return min, max, false
	}
	col := p.Column()
	return pq.FloatValue(lo).Level(0, 0, col), pq.FloatValue(hi).Level(0, 0, col), true
}

// floatRange returns the bounds of a page's (non-null) values, see
// nanSafe.
func floatRange[F float32 | float64](data []F) (lo, hi F, ok bool) {
	if len(data) == 0 {
		return lo, hi, false
	}
	lo, hi = F(math.Inf(1)), F(math.Inf(-1))
	for _, x := range data {
		if x != x {
			return F(math.Inf(-1)), F(math.Inf(1)), true
		}
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	if lo == 0 {
		lo = F(math.Copysign(0, -1))
	}
	if hi == 0 {
		hi = 0
	}
	return lo, hi, true
}

// compareSigned compares two big-endian two's-complement integers of the
// same length.
func compareSigned(a, b []byte) int {
	if len(a) == 0 || len(b) == 0 {
		return len(a) - len(b)
	}
	if a[0] != b[0] {
		if int8(a[0]) < int8(b[0]) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[1:], b[1:])
}

// signedIndexer builds the page index of a signed decimal column: one
// min/max pair per page (empty for a page holding only nulls: parquet-go's
// own indexer appends nothing for those, misaligning the lists), with the
// boundary order computed in the signed order.
type signedIndexer struct {
	nullPages  []bool
	nullCounts []int64
	mins, maxs [][]byte
}

func (x *signedIndexer) Reset() {
	x.nullPages, x.nullCounts = x.nullPages[:0], x.nullCounts[:0]
	x.mins, x.maxs = x.mins[:0], x.maxs[:0]
}

func (x *signedIndexer) IndexPage(numValues, numNulls int64, min, max pq.Value) {
	x.nullPages = append(x.nullPages, numValues == numNulls)
	x.nullCounts = append(x.nullCounts, numNulls)
	x.mins = append(x.mins, append([]byte{}, min.ByteArray()...))
	x.maxs = append(x.maxs, append([]byte{}, max.ByteArray()...))
}

func (x *signedIndexer) ColumnIndex() format.ColumnIndex {
	return format.ColumnIndex{
		NullPages:     append([]bool(nil), x.nullPages...),
		NullCounts:    append([]int64(nil), x.nullCounts...),
		MinValues:     append([][]byte(nil), x.mins...),
		MaxValues:     append([][]byte(nil), x.maxs...),
		BoundaryOrder: x.boundaryOrder(),
	}
}

// boundaryOrder reports whether the non-null pages' minimums and maximums
// are both ascending or both descending.
func (x *signedIndexer) boundaryOrder() format.BoundaryOrder {
	asc, desc := true, true
	prev := -1
	for i, null := range x.nullPages {
		if null {
			continue
		}
		if prev >= 0 {
			cmin, cmax := compareSigned(x.mins[prev], x.mins[i]), compareSigned(x.maxs[prev], x.maxs[i])
			asc = asc && cmin <= 0 && cmax <= 0
			desc = desc && cmin >= 0 && cmax >= 0
		}
		prev = i
	}
	switch {
	case asc:
		return format.Ascending
	case desc:
		return format.Descending
	}
	return format.Unordered
}
