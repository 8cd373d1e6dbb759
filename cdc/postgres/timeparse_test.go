package postgres

import (
	"errors"
	"math"
	"testing"
	"time"
)

// micros returns the Unix microseconds of a UTC wall clock (astronomical
// year y), computed by package time as an independent reference.
func micros(y int, mo time.Month, d, h, mi, s, us int) int64 {
	return time.Date(y, mo, d, h, mi, s, us*1000, time.UTC).UnixMicro()
}

// days returns the days since 1970-01-01 of y-mo-d, computed by package time.
func days(y int, mo time.Month, d int) int64 {
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// TestDaysFromCivilMatchesTime compares daysFromCivil with package time.
func TestDaysFromCivilMatchesTime(t *testing.T) {
	start := time.Date(-4800, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 200_000; i++ {
		tm := start.AddDate(0, 0, i*29+i%7)
		want := tm.Unix() / 86400
		if got := daysFromCivil(int64(tm.Year()), int(tm.Month()), tm.Day()); got != want {
			t.Fatalf("daysFromCivil(%v) = %d, want %d", tm, got, want)
		}
	}
}

// TestParseDate covers dates, BC and large years.
func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"1969-12-31", -1, true},
		{"2024-02-29", days(2024, 2, 29), true},
		{"0001-01-01", minusInfinityDays, true},
		{"9999-12-31", infinityDays, true},
		{"0001-12-31 BC", days(0, 12, 31), true},
		{"0044-03-15 BC", days(-43, 3, 15), true},
		{"4713-01-01 BC", days(-4712, 1, 1), true},
		{"5874897-12-31", days(5874897, 12, 31), true},
		{"10000-01-01", days(10000, 1, 1), true},
		{"2024-13-01", 0, false},
		{"2024-00-10", 0, false},
		{"2024-01-32", 0, false},
		{"24-01-01", 0, false},
		{"2024-1-01", 0, false},
		{"2024/01/01", 0, false},
		{"", 0, false},
		{"infinity", 0, false},
		{" BC", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, rest, ok := parseDate([]byte(tc.in))
			ok = ok && len(rest) == 0
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("parseDate(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestParseTime covers times of day, 24:00:00 and fractions.
func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:00:00", 0, true},
		{"24:00:00", 86_400_000_000, true},
		{"23:59:59.999999", 86_399_999_999, true},
		{"12:34:56.5", (12*3600+34*60+56)*1e6 + 500_000, true},
		{"12:34:56.05", (12*3600+34*60+56)*1e6 + 50_000, true},
		{"00:00:00.000001", 1, true},
		{"12:34:56.1234567", 0, false},
		{"12:34:56.", 0, false},
		{"24:00:00.1", 0, false},
		{"25:00:00", 0, false},
		{"12:60:00", 0, false},
		{"1:00:00", 0, false},
		{"12:00:00+00", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseTime([]byte(tc.in))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("parseTime(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestParseOffset covers time zone offsets.
func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // seconds east of UTC
		ok   bool
	}{
		{"+00", 0, true},
		{"-00", 0, true},
		{"+05:30", 5*3600 + 30*60, true},
		{"-04:56:02", -(4*3600 + 56*60 + 2), true},
		{"+14", 14 * 3600, true},
		{"+5", 0, false},
		{"+05:3", 0, false},
		{"05:30", 0, false},
		{"+05:30:00:00", 0, false},
		{"+05-30", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseOffset([]byte(tc.in))
			if ok != tc.ok || (ok && got != tc.want*1e6) {
				t.Fatalf("parseOffset(%q) = %d, %v; want %d s, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestParseTimestamp covers timestamps, offsets, BC and the int64 limit.
func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in       string
		withZone bool
		want     int64
		ok       bool
		errRange bool
	}{
		{"1970-01-01 00:00:00", false, 0, true, false},
		{"2024-01-02 03:04:05.123456", false, micros(2024, 1, 2, 3, 4, 5, 123456), true, false},
		{"2024-01-02 03:04:05.1", false, micros(2024, 1, 2, 3, 4, 5, 100000), true, false},
		{"1969-12-31 23:59:59.999999", false, -1, true, false},
		{"0044-03-15 12:00:00 BC", false, micros(-43, 3, 15, 12, 0, 0, 0), true, false},
		{"2024-01-02 03:04:05.123456+00", true, micros(2024, 1, 2, 3, 4, 5, 123456), true, false},
		{"2024-01-02 08:34:05+05:30", true, micros(2024, 1, 2, 3, 4, 5, 0), true, false},
		{"1799-12-31 19:03:58-04:56:02", true, micros(1800, 1, 1, 0, 0, 0, 0), true, false},
		{"4713-01-01 00:00:00+00 BC", true, micros(-4712, 1, 1, 0, 0, 0, 0), true, false},
		{"9999-12-31 23:59:59.999999", false, infinityMicros, true, false},
		{"0001-01-01 00:00:00", false, minusInfinityMicros, true, false},
		{"294247-01-10 04:00:54.775807", false, math.MaxInt64, true, false},
		{"294247-01-10 04:00:54.775808", false, 0, false, true},
		{"294276-12-31 23:59:59.999999", false, 0, false, true},
		{"294247-01-10 04:00:54.775807-00:01", true, 0, false, true},
		{"2024-01-02 03:04:05", true, 0, false, false},
		{"2024-01-02 03:04:05+00", false, 0, false, false},
		{"2024-01-02T03:04:05", false, 0, false, false},
		{"2024-01-02", false, 0, false, false},
		{"infinity", false, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok, errRange := parseTimestamp([]byte(tc.in), tc.withZone)
			if ok != tc.ok || errRange != tc.errRange || (ok && got != tc.want) {
				t.Fatalf("parseTimestamp(%q, %v) = %d, %v, %v; want %d, %v, %v",
					tc.in, tc.withZone, got, ok, errRange, tc.want, tc.ok, tc.errRange)
			}
		})
	}
}

// TestTimeFallbacks checks infinities: null or fallback, one warning.
func TestTimeFallbacks(t *testing.T) {
	tests := []struct {
		name     string
		dec      func(*fallback) textDecoder
		in       string
		optional bool
		want     any
	}{
		{"date infinity null", dateDecoder, "infinity", true, nil},
		{"date infinity", dateDecoder, "infinity", false, days(9999, 12, 31)},
		{"date -infinity", dateDecoder, "-infinity", false, days(1, 1, 1)},
		{"timestamp infinity null", tsDecoder(false), "infinity", true, nil},
		{"timestamp infinity", tsDecoder(false), "infinity", false, micros(9999, 12, 31, 23, 59, 59, 999999)},
		{"timestamptz -infinity", tsDecoder(true), "-infinity", false, micros(1, 1, 1, 0, 0, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, n := countingLogger()
			dec := tc.dec(&fallback{log: log, column: "c", typ: "t", optional: tc.optional})
			for range 3 {
				got, err := dec([]byte(tc.in))
				if err != nil || got != tc.want {
					t.Fatalf("decode(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
				}
			}
			if *n != 1 {
				t.Fatalf("%d warnings, want 1", *n)
			}
		})
	}
}

// tsDecoder adapts timestampDecoder to TestTimeFallbacks' table.
func tsDecoder(withZone bool) func(*fallback) textDecoder {
	return func(f *fallback) textDecoder { return timestampDecoder(f, withZone) }
}

// TestTimestampRangeError checks the error beyond int64 micros.
func TestTimestampRangeError(t *testing.T) {
	dec := timestampDecoder(&fallback{log: discardLogger(), column: "c", typ: "timestamp", optional: true}, false)
	_, err := dec([]byte("294276-12-31 23:59:59.999999"))
	var re *rangeError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a rangeError", err)
	}
	if _, err := dec([]byte("2024-01-01")); !errors.Is(err, errSyntax) {
		t.Fatalf("err = %v, want errSyntax", err)
	}
}
