package main

import "testing"

// TestPlan checks that the planned transactions add up to the requested
// row changes, with the big transaction capped at 50,000 rows.
func TestPlan(t *testing.T) {
	for _, rows := range []int{1000, 20_000, 1_000_000, 3_000_000} {
		sizes, big := plan(rows)
		total := big
		for _, s := range sizes {
			total += s
		}
		if total != rows {
			t.Errorf("plan(%d): %d row changes", rows, total)
		}
		if want := min(50_000, rows/20); big != want {
			t.Errorf("plan(%d): big transaction of %d rows, want %d", rows, big, want)
		}
	}
}

// TestFormatting covers the report's number helpers.
func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 200000: "200,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
}
