package fullload

import (
	"fmt"
	"math"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

func rangeString(rs []keyRange) string {
	s := ""
	for _, r := range rs {
		lo, hi := "-inf", "+inf"
		if r.Lo != nil {
			lo = fmt.Sprint(*r.Lo)
		}
		if r.Hi != nil {
			hi = fmt.Sprint(*r.Hi)
		}
		s += "[" + lo + "," + hi + "]"
	}
	return s
}

func kr(lo, hi int64) keyRange {
	r := keyRange{}
	if lo != math.MinInt64 {
		r.Lo = ptr(lo)
	}
	if hi != math.MaxInt64 {
		r.Hi = ptr(hi)
	}
	return r
}

func TestRemaining(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	tests := []struct {
		name string
		done []keyRange
		want string
	}{
		{"nothing done", nil, "[-inf,+inf]"},
		{"all done", []keyRange{kr(lo, hi)}, ""},
		{"all done in pieces", []keyRange{kr(11, hi), kr(lo, 10)}, ""},
		{"middle gap", []keyRange{kr(lo, 10), kr(21, hi)}, "[11,20]"},
		{"ends open", []keyRange{kr(5, 10)}, "[-inf,4][11,+inf]"},
		{"overlapping", []keyRange{kr(5, 10), kr(8, 12), kr(14, 20)}, "[-inf,4][13,13][21,+inf]"},
		{"nested", []keyRange{kr(lo, 100), kr(5, 10)}, "[101,+inf]"},
		{"adjacent", []keyRange{kr(1, 5), kr(6, 9)}, "[-inf,0][10,+inf]"},
		{"max key", []keyRange{kr(lo, math.MaxInt64-1)}, "[9223372036854775807,+inf]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rangeString(remaining(tc.done)); got != tc.want {
				t.Fatalf("remaining = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSplitRange(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	tests := []struct {
		name          string
		r             keyRange
		min, max, wid int64
		want          string
	}{
		{"whole table", kr(lo, hi), 1, 100, 25, "[-inf,25][26,50][51,75][76,+inf]"},
		{"uneven", kr(lo, hi), 1, 10, 4, "[-inf,4][5,8][9,+inf]"},
		{"small", kr(lo, hi), 1, 10, 100, "[-inf,+inf]"},
		{"gap beyond table", kr(101, hi), 1, 100, 10, "[101,+inf]"},
		{"bounded gap", kr(11, 30), 1, 100, 10, "[11,20][21,30]"},
		{"negative keys", kr(lo, hi), -20, 19, 20, "[-inf,-1][0,+inf]"},
		{"huge span", kr(lo, hi), math.MinInt64 + 1, math.MaxInt64 - 1, math.MaxInt64 / 2, "[-inf,-4611686018427387905][-4611686018427387904,-2][-1,4611686018427387901][4611686018427387902,9223372036854775804][9223372036854775805,+inf]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rangeString(splitRange(tc.r, tc.min, tc.max, tc.wid)); got != tc.want {
				t.Fatalf("splitRange = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBisect(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	a, b, ok := bisect(kr(lo, hi), 1, 100)
	if !ok || rangeString([]keyRange{a, b}) != "[-inf,50][51,+inf]" {
		t.Fatalf("bisect = %s %v", rangeString([]keyRange{a, b}), ok)
	}
	if _, _, ok := bisect(kr(7, 7), 1, 100); ok {
		t.Fatal("bisect of one key succeeded")
	}
	if _, _, ok := bisect(kr(lo, hi), 5, 5); ok {
		t.Fatal("bisect of a one-key table succeeded")
	}
}

func TestPlanPages(t *testing.T) {
	dt := &cdc.DumpTable{EstimatedRows: 1_000_000, Pages: 10_000}
	got := planPages(dt, 2, 250_000)
	if len(got) != 4 || got[0] != [2]int64{0, 2500} || got[3] != [2]int64{7500, 0} {
		t.Fatalf("planPages = %v", got)
	}
	if got := planPages(&cdc.DumpTable{}, 4, 1000); len(got) != 1 || got[0] != [2]int64{0, 0} {
		t.Fatalf("planPages(empty) = %v", got)
	}
}
