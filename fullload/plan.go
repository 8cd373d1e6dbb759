package fullload

import (
	"math"
	"sort"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// keyRange is an inclusive range of a split key; nil ends are unbounded.
type keyRange struct {
	Lo *int64 `json:"lo"`
	Hi *int64 `json:"hi"`
}

// lo and hi return the range's ends with unbounded ends as the int64 limits.
func (r keyRange) lo() int64 {
	if r.Lo == nil {
		return math.MinInt64
	}
	return *r.Lo
}

func (r keyRange) hi() int64 {
	if r.Hi == nil {
		return math.MaxInt64
	}
	return *r.Hi
}

// ptr returns a pointer to v.
func ptr(v int64) *int64 { return &v }

// remaining returns the parts of the whole key space (MinInt64..MaxInt64)
// not covered by done, in key order. Ranges in done may overlap.
func remaining(done []keyRange) []keyRange {
	sorted := append([]keyRange(nil), done...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].lo() < sorted[j].lo() })
	var out []keyRange
	var next *int64 // first key not yet covered; nil = MinInt64
	for _, r := range sorted {
		from := int64(math.MinInt64)
		if next != nil {
			from = *next
		}
		if r.lo() > from {
			gap := keyRange{Lo: next, Hi: ptr(r.lo() - 1)}
			out = append(out, gap)
		}
		if r.hi() == math.MaxInt64 {
			return out
		}
		if r.hi() >= from {
			next = ptr(r.hi() + 1)
		}
	}
	return append(out, keyRange{Lo: next})
}

// splitRange cuts r into ranges of about width keys, using the table's
// actual extent [min, max] for where the cuts go: the first piece keeps r's
// lower end and the last its upper end, so unbounded ends stay unbounded.
func splitRange(r keyRange, min, max, width int64) []keyRange {
	lo, hi := r.lo(), r.hi()
	if lo < min {
		lo = min
	}
	if hi > max {
		hi = max
	}
	if width < 1 {
		width = 1
	}
	if lo > hi || span(lo, hi) < uint64(width) { // nothing or little of the table in r
		return []keyRange{r}
	}
	var out []keyRange
	start := r.Lo
	for cut := lo; ; {
		if span(cut, hi) < uint64(width) { // the last piece
			return append(out, keyRange{Lo: start, Hi: r.Hi})
		}
		end := cut + width - 1
		out = append(out, keyRange{Lo: start, Hi: ptr(end)})
		start = ptr(end + 1)
		cut = end + 1
	}
}

// span returns hi-lo for lo <= hi without overflowing.
func span(lo, hi int64) uint64 { return uint64(hi) - uint64(lo) }

// bisect splits r in two halves of the table's extent [min, max] clipped to
// r; ok is false when r holds a single key of the extent and cannot split.
func bisect(r keyRange, min, max int64) (a, b keyRange, ok bool) {
	lo, hi := r.lo(), r.hi()
	if lo < min {
		lo = min
	}
	if hi > max {
		hi = max
	}
	if lo >= hi {
		return r, r, false
	}
	mid := lo + int64(span(lo, hi)/2)
	return keyRange{Lo: r.Lo, Hi: ptr(mid)}, keyRange{Lo: ptr(mid + 1), Hi: r.Hi}, true
}

// rowsPerChunk is the planned chunk size of a table of est rows: enough
// chunks to keep every worker busy, within [minChunkRows, max].
func rowsPerChunk(est int64, parallelism int, max int64) int64 {
	n := est / int64(2*parallelism)
	if n > max {
		n = max
	}
	if n < minChunkRows {
		n = minChunkRows
	}
	return n
}

// minChunkRows is the smallest planned chunk; smaller tables are one chunk.
const minChunkRows = 50_000

// keyWidth is the key span holding about rows rows of table t.
func keyWidth(t *cdc.DumpTable, rows int64) int64 {
	span := float64(t.KeyMax) - float64(t.KeyMin) + 1
	density := 1.0 // rows per key; a table without statistics is taken as dense
	if t.EstimatedRows > 0 && span > 0 {
		density = float64(t.EstimatedRows) / span
	}
	w := float64(rows) / density
	if w > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(math.Ceil(w))
}

// planKeys returns the chunks still to read of a SplitKey table, given the
// ranges already done.
func planKeys(t *cdc.DumpTable, done []keyRange, parallelism int, chunkRows int64) []keyRange {
	rest := remaining(done)
	if t.Empty {
		return rest
	}
	width := keyWidth(t, rowsPerChunk(t.EstimatedRows, parallelism, chunkRows))
	var out []keyRange
	for _, r := range rest {
		out = append(out, splitRange(r, t.KeyMin, t.KeyMax, width)...)
	}
	return out
}

// planPages returns the page ranges [first, end) of a SplitPages table; the
// last range is open (end 0).
func planPages(t *cdc.DumpTable, parallelism int, chunkRows int64) [][2]int64 {
	if t.Pages <= 1 || t.EstimatedRows <= 0 {
		return [][2]int64{{0, 0}}
	}
	perPage := float64(t.EstimatedRows) / float64(t.Pages)
	width := int64(math.Ceil(float64(rowsPerChunk(t.EstimatedRows, parallelism, chunkRows)) / math.Max(perPage, 1)))
	var out [][2]int64
	for first := int64(0); ; first += width {
		if first+width >= t.Pages {
			return append(out, [2]int64{first, 0})
		}
		out = append(out, [2]int64{first, first + width})
	}
}
