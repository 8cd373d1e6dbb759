package mysql

import (
	"testing"
	"time"
)

// TestDaysSinceEpoch checks the calendar arithmetic against time.Date over
// every day MySQL can store, and days beyond a month's end.
func TestDaysSinceEpoch(t *testing.T) {
	for y := 0; y <= 9999; y++ {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 31; d++ {
				want := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
				if got := daysSinceEpoch(y, m, d); got != want {
					t.Fatalf("%04d-%02d-%02d: %d days, want %d", y, m, d, got, want)
				}
			}
		}
	}
}
