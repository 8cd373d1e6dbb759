package mysql

import (
	"math/big"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestSmallDecimalAgrees: the fast path gives the general path's answer, and
// declines what it cannot hold.
func TestSmallDecimalAgrees(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		fast  bool
	}{
		{"0", 0, true}, {"-0.00", 2, true}, {"123.45", 2, true}, {"-123.45", 2, true},
		{"12.5", 3, true}, {"999999999999999999", 0, true}, {"-99999999.9999999999", 10, true},
		{"1234567890123456789", 0, false}, {"1.23456789012345678", 17, true},
		{"0.000000000000000000000000000001", 30, false}, {"1.50", 1, false}, {"12", 2, true},
		{"99999999999999999999999999999999999.999999999999999999999999999999", 30, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := cdc.ParseSmallDecimal(tc.in, tc.scale)
			if ok != tc.fast {
				t.Fatalf("fast path taken = %v, want %v", ok, tc.fast)
			}
			slow, err := parseDecimal(tc.in, tc.scale) // takes the fast path when it can
			if err != nil {
				t.Fatal(err)
			}
			want := slowDecimal(t, tc.in, tc.scale)
			if slow.(*big.Int).Cmp(want) != 0 || (ok && got.Cmp(want) != 0) {
				t.Errorf("%s at scale %d: fast %v, parseDecimal %v, want %v", tc.in, tc.scale, got, slow, want)
			}
		})
	}
}

// slowDecimal is an independent reference: big.Rat scaled by 10^scale.
func slowDecimal(t *testing.T, s string, scale int) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad reference input %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		t.Fatalf("%q has more than %d fraction digits", s, scale)
	}
	return r.Num()
}
