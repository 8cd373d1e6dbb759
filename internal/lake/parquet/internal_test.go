package parquet

import (
	"bytes"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	pq "github.com/parquet-go/parquet-go"
)

func TestDecimalBytes(t *testing.T) {
	// The usual table (Spark, parquet-mr): the fewest bytes for p digits.
	want := map[int]int{1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 4, 9: 4, 10: 5, 11: 5, 12: 6, 14: 6, 15: 7, 16: 7,
		17: 8, 18: 8, 19: 9, 20: 9, 21: 9, 22: 10, 24: 11, 26: 11, 27: 12, 28: 12, 29: 13, 31: 13, 32: 14, 33: 14,
		34: 15, 35: 15, 36: 16, 38: 16}
	for p, n := range want {
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
		if got := decimalBytes(limit); got != n {
			t.Errorf("decimalBytes(10^%d) = %d, want %d", p, got, n)
		}
	}
}

// TestPutDecimal compares putDecimal with two's complement computed by
// big.Int arithmetic.
func TestPutDecimal(t *testing.T) {
	values := []string{"0", "1", "-1", "127", "128", "-128", "-129", "255", "-256", "65535", "-65536",
		"9223372036854775807", "-9223372036854775808", "18446744073709551615", "-18446744073709551616",
		strings.Repeat("9", 38), "-" + strings.Repeat("9", 38), "-340282366920938463463374607431768211455"}
	for _, s := range values {
		x, _ := new(big.Int).SetString(s, 10)
		for _, n := range []int{9, 16, 17} {
			if x.BitLen() >= 8*n {
				continue
			}
			want := new(big.Int).Set(x)
			if x.Sign() < 0 {
				want.Add(want, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
			}
			wb := want.FillBytes(make([]byte, n))
			got := make([]byte, n)
			putDecimal(got, x)
			if !bytes.Equal(got, wb) {
				t.Errorf("putDecimal(%s, %d bytes) = %x, want %x", s, n, got, wb)
			}
		}
	}
}

func TestAppendDecimalText(t *testing.T) {
	for _, c := range []struct {
		unscaled string
		scale    int
		want     string
	}{
		{"0", 0, "0"}, {"0", 3, "0.000"}, {"5", 3, "0.005"}, {"-5", 3, "-0.005"}, {"120", 0, "120"},
		{"-120", 1, "-12.0"}, {"123456", 3, "123.456"}, {"-123456", 6, "-0.123456"}, {"123456", 7, "0.0123456"},
		{"-" + strings.Repeat("9", 65), 30, "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)},
	} {
		x, _ := new(big.Int).SetString(c.unscaled, 10)
		got := appendDecimalText([]byte("keep"), x, c.scale)
		if string(got) != "keep"+c.want {
			t.Errorf("appendDecimalText(%s, %d) = %q, want %q", c.unscaled, c.scale, got[4:], c.want)
		}
	}
}

func TestFloatRange(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		in     []float64
		lo, hi float64
		ok     bool
	}{
		{nil, 0, 0, false},
		{[]float64{3, -1, 2}, -1, 3, true},
		{[]float64{0, 1}, math.Copysign(0, -1), 1, true},
		{[]float64{-2, math.Copysign(0, -1)}, -2, 0, true},
		{[]float64{1, nan, 2}, math.Inf(-1), math.Inf(1), true},
		{[]float64{nan}, math.Inf(-1), math.Inf(1), true},
		{[]float64{math.Inf(1), -5}, -5, math.Inf(1), true},
	} {
		lo, hi, ok := floatRange(c.in)
		if ok != c.ok || lo != c.lo || hi != c.hi || math.Signbit(lo) != math.Signbit(c.lo) || math.Signbit(hi) != math.Signbit(c.hi) {
			t.Errorf("floatRange(%v) = %v, %v, %v; want %v, %v, %v", c.in, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

// TestDecimalPageIndex reads back the page index of a decimal column whose
// values go from negative to positive with a stretch of nulls in between
// (DuckDB does not read page indexes): one entry per page, null pages
// empty, bounds and boundary order in the signed order.
func TestDecimalPageIndex(t *testing.T) {
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{
		{Name: "d", Kind: cdc.KindDecimal, Precision: 10, Scale: 0},
	}}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, tbl, "none", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 700_000 {
		var v any
		switch {
		case i < 100_000:
			v = big.NewInt(int64(i - 100_000))
		case i >= 600_000:
			v = big.NewInt(int64(i - 600_000))
		}
		if err := w.Write([]any{v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := pq.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	chunk := f.RowGroups()[0].ColumnChunks()[0]
	ci, err := chunk.ColumnIndex()
	if err != nil {
		t.Fatal(err)
	}
	oi, err := chunk.OffsetIndex()
	if err != nil {
		t.Fatal(err)
	}
	pages, nullPages := oi.NumPages(), 0
	if ci.NumPages() != pages || pages < 4 {
		t.Fatalf("column index has %d pages, offset index %d", ci.NumPages(), pages)
	}
	signed := func(b []byte) *big.Int {
		x := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return x
	}
	var prevMax *big.Int
	for i := range pages {
		if ci.NullPage(i) {
			nullPages++
			continue
		}
		lo, hi := signed(ci.MinValue(i).ByteArray()), signed(ci.MaxValue(i).ByteArray())
		if lo.Cmp(hi) > 0 || (prevMax != nil && prevMax.Cmp(lo) > 0) {
			t.Errorf("page %d: bounds %v..%v after a page ending at %v", i, lo, hi, prevMax)
		}
		prevMax = hi
	}
	if first, last := signed(ci.MinValue(0).ByteArray()), signed(ci.MaxValue(pages-1).ByteArray()); first.Int64() != -100_000 || last.Int64() != 99_999 {
		t.Errorf("first page's minimum %v, last page's maximum %v", first, last)
	}
	if nullPages == 0 || !ci.IsAscending() {
		t.Errorf("%d pages, %d of them null; ascending %v", pages, nullPages, ci.IsAscending())
	}
}

func TestPageBuffer(t *testing.T) {
	p := new(pagePool)
	b := p.GetBuffer()
	data := bytes.Repeat([]byte("0123456789"), chunkSize/5+7) // spans 3 chunks
	for i := 0; i < len(data); i += 1000 {
		if _, err := b.Write(data[i:min(i+1000, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if p.buffered != int64(len(data)) {
		t.Fatalf("buffered = %d, want %d", p.buffered, len(data))
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, b); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy: %v, %d bytes", err, out.Len())
	}
	if off, _ := b.Seek(-5, io.SeekEnd); off != int64(len(data)-5) {
		t.Fatalf("seek from end = %d", off)
	}
	got, err := io.ReadAll(io.LimitReader(b, 3))
	if err != nil || string(got) != string(data[len(data)-5:len(data)-2]) {
		t.Fatalf("read after seek = %q, %v", got, err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Error("write in the middle accepted")
	}
	p.PutBuffer(b)
	if p.buffered != 0 || len(p.free) != 3 {
		t.Errorf("after PutBuffer: buffered %d, %d free chunks", p.buffered, len(p.free))
	}
	b2 := p.GetBuffer()
	b2.Write([]byte("abc"))
	if len(p.free) != 2 || p.buffered != 3 {
		t.Errorf("chunk not reused: %d free, buffered %d", len(p.free), p.buffered)
	}
}
