package cdc

import (
	"fmt"
	"math"
	"testing"
)

// TestOrderFormats: the change orders are exactly what fmt renders with
// the documented verbs.
func TestOrderFormats(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, 154, 1 << 32, math.MaxInt32, 99999999999999999, math.MaxInt64, -1, -154, math.MinInt64} {
		for _, file := range []string{"binlog.000001", "mysql-bin.123456", ""} {
			if got, want := BinlogOrder(file, n, n%7), fmt.Sprintf("%s:%020d:%010d", file, n, n%7); got != want {
				t.Errorf("BinlogOrder(%q, %d, %d) = %q, want %q", file, n, n%7, got, want)
			}
			if got, want := BinlogStart(file, n), fmt.Sprintf("%s:%020d", file, n); got != want {
				t.Errorf("BinlogStart(%q, %d) = %q, want %q", file, n, got, want)
			}
		}
		u := uint64(n)
		if got, want := WALOrder(u, u/3), fmt.Sprintf("%016X:%016X", u, u/3); got != want {
			t.Errorf("WALOrder(%d) = %q, want %q", u, got, want)
		}
		if got, want := WALStart(u), fmt.Sprintf("%016X", u); got != want {
			t.Errorf("WALStart(%d) = %q, want %q", u, got, want)
		}
	}
	if got, want := WALOrder(math.MaxUint64, 0xABCDEF), fmt.Sprintf("%016X:%016X", uint64(math.MaxUint64), 0xABCDEF); got != want {
		t.Errorf("WALOrder(max) = %q, want %q", got, want)
	}
}
