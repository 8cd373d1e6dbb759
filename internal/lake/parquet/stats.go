package parquet

import (
	"math"

	pq "github.com/parquet-go/parquet-go"
)

// parquet-go (v0.32.1) leaves NaN out of the min/max statistics of a FLOAT
// or DOUBLE page (which make the column chunk statistics and the page
// index) but keeps the other values' bounds, and writes zero bounds as they
// come. DuckDB prunes row groups on those bounds, so a query such as
// "f > 2800" silently drops the NaN rows of every row group whose maximum
// is below 2800 (NaN is the largest double in DuckDB's order). The wrapper
// below gives such pages bounds that never prune (see nanSafe).
//
// DECIMAL over FIXED_LEN_BYTE_ARRAY, which v0.26.0 ordered as unsigned
// bytes (-1 above 5), needs no wrapper since v0.32.1: it orders DECIMAL as
// signed integers, as the specification says, page index included.

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
