package postgres

import (
	"github.com/fluxo-cdc/fluxo/cdc"
	"math"
)

// Hand-written parsers for PostgreSQL's date/time text output with
// DateStyle 'ISO, YMD' (see sessionSetup). They avoid time.Parse, which is
// slow and cannot represent BC years or years past 9999, and work on the
// proleptic Gregorian calendar with astronomical years (1 BC = year 0), as
// PostgreSQL does.

// Microsecond units and the documented fallbacks of infinities.
const (
	usPerSecond = 1_000_000
	usPerDay    = 86_400 * usPerSecond

	// infinityDays and minusInfinityDays are the documented fallbacks of
	// 'infinity' and '-infinity' dates in NOT NULL columns: 9999-12-31 and
	// 0001-01-01.
	infinityDays      = int64(2932896)
	minusInfinityDays = int64(-719162)
	// infinityMicros and minusInfinityMicros are the fallbacks of timestamps:
	// 9999-12-31 23:59:59.999999 and 0001-01-01 00:00:00.
	infinityMicros      = infinityDays*usPerDay + usPerDay - 1
	minusInfinityMicros = minusInfinityDays * usPerDay
)

// infinity classifies text as PostgreSQL's 'infinity' (+1), '-infinity'
// (-1) or neither (0).
func infinity(b []byte) int {
	switch string(b) { // no allocation: the compiler compares in place
	case "infinity":
		return 1
	case "-infinity":
		return -1
	}
	return 0
}

// daysFromCivil returns the days from 1970-01-01 to the proleptic Gregorian
// date y-m-d (astronomical year y), after H. Hinnant's days_from_civil.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era-- // floor division
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12) // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseDate parses "YYYY-MM-DD" (four or more year digits) into days since
// 1970-01-01 and returns the rest of b (a time and an offset). A " BC" at the
// very end of b, where PostgreSQL puts it after any time and offset, makes
// the year BC and is not part of the rest.
func parseDate(b []byte) (days int64, rest []byte, ok bool) {
	bc := len(b) > 3 && string(b[len(b)-3:]) == " BC"
	if bc {
		b = b[:len(b)-3]
	}
	i := 0
	var y int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 9; i++ {
		y = y*10 + int64(b[i]-'0')
	}
	if i < 4 || len(b) < i+6 || b[i] != '-' || b[i+3] != '-' {
		return 0, nil, false
	}
	m, ok1 := twoDigits(b[i+1:])
	d, ok2 := twoDigits(b[i+4:])
	if !ok1 || !ok2 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, nil, false
	}
	if bc {
		y = 1 - y // 1 BC is astronomical year 0
	}
	return daysFromCivil(y, m, d), b[i+6:], true
}

// twoDigits parses the two decimal digits at the start of b.
func twoDigits(b []byte) (int, bool) {
	if len(b) < 2 || b[0]-'0' > 9 || b[1]-'0' > 9 {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// parseClock parses "HH:MM:SS[.f]" with one to six fraction digits into
// microseconds since midnight ("24:00:00" is valid) and returns the rest.
func parseClock(b []byte) (us int64, rest []byte, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, nil, false
	}
	h, ok1 := twoDigits(b)
	m, ok2 := twoDigits(b[3:])
	s, ok3 := twoDigits(b[6:])
	if !ok1 || !ok2 || !ok3 || h > 24 || m > 59 || s > 60 {
		return 0, nil, false
	}
	us = (int64(h)*3600 + int64(m)*60 + int64(s)) * usPerSecond
	b = b[8:]
	if len(b) > 0 && b[0] == '.' {
		frac, n := int64(0), 1
		for ; n < len(b) && b[n]-'0' <= 9; n++ {
			frac = frac*10 + int64(b[n]-'0')
		}
		if n == 1 || n > 7 {
			return 0, nil, false
		}
		for i := n; i < 7; i++ {
			frac *= 10
		}
		us += frac
		b = b[n:]
	}
	if us > usPerDay {
		return 0, nil, false
	}
	return us, b, true
}

// parseOffset parses a time zone offset "+HH", "+HH:MM" or "+HH:MM:SS"
// (sign required) into microseconds east of UTC; it must use all of b.
func parseOffset(b []byte) (int64, bool) {
	if len(b) < 3 || (b[0] != '+' && b[0] != '-') {
		return 0, false
	}
	secs := int64(0)
	for i := 1; ; i += 3 {
		v, ok := twoDigits(b[i:])
		if !ok {
			return 0, false
		}
		secs = secs*60 + int64(v)
		if i+2 == len(b) {
			break
		}
		if i == 7 || len(b) < i+5 || b[i+2] != ':' {
			return 0, false
		}
	}
	for i := len(b); i < 9; i += 3 {
		secs *= 60 // scale missing minutes and seconds
	}
	if b[0] == '-' {
		secs = -secs
	}
	return secs * usPerSecond, true
}

// parseTime parses PostgreSQL time text into microseconds since midnight.
func parseTime(b []byte) (int64, bool) {
	us, rest, ok := parseClock(b)
	return us, ok && len(rest) == 0
}

// parseTimestamp parses "YYYY-MM-DD HH:MM:SS[.f][offset][ BC]" into
// microseconds since 1970-01-01 00:00 UTC; withZone says whether the text
// carries an offset (timestamptz) or is local time (timestamp). errRange
// reports a valid timestamp whose micros overflow int64.
func parseTimestamp(b []byte, withZone bool) (us int64, ok, errRange bool) {
	days, rest, ok := parseDate(b)
	if !ok || len(rest) < 1 || rest[0] != ' ' {
		return 0, false, false
	}
	clock, rest, ok := parseClock(rest[1:])
	if !ok {
		return 0, false, false
	}
	var offset int64
	if withZone {
		if offset, ok = parseOffset(rest); !ok {
			return 0, false, false
		}
	} else if len(rest) != 0 {
		return 0, false, false
	}
	us, ok = dayMicros(days, clock-offset)
	return us, ok, !ok
}

// dayMicros returns days*usPerDay + us, reporting int64 overflow.
func dayMicros(days, us int64) (int64, bool) {
	if days > math.MaxInt64/usPerDay || days < math.MinInt64/usPerDay {
		return 0, false
	}
	a := days * usPerDay
	s := a + us
	if (a^s)&(us^s) < 0 { // both operands' signs differ from the sum's
		return 0, false
	}
	return s, true
}

// dateDecoder decodes date into days since 1970-01-01 (every PostgreSQL
// date fits); 'infinity' and '-infinity' fall back to 9999-12-31 and
// 0001-01-01 through f.
func dateDecoder(f *fallback) textDecoder {
	return func(b []byte) (any, error) {
		if days, rest, ok := parseDate(b); ok && len(rest) == 0 {
			return days, nil
		}
		switch infinity(b) {
		case 1:
			return f.use(b, infinityDays, "9999-12-31")
		case -1:
			return f.use(b, minusInfinityDays, "0001-01-01")
		}
		return nil, badText("date", b)
	}
}

// decodeTime decodes time into microseconds since midnight.
func decodeTime(b []byte) (any, error) {
	if us, ok := parseTime(b); ok {
		return us, nil
	}
	return nil, badText("time", b)
}

// timestampDecoder decodes timestamp (withZone false: the wall clock read as
// UTC) or timestamptz into microseconds since the epoch. 'infinity' and
// '-infinity' fall back through f to 9999-12-31 23:59:59.999999 and
// 0001-01-01 00:00:00; timestamps from 294247-01-10 04:00:54.775808 UTC on,
// which PostgreSQL allows, overflow the micros and are an error that stops
// the stream.
func timestampDecoder(f *fallback, withZone bool) textDecoder {
	return func(b []byte) (any, error) {
		us, ok, errRange := parseTimestamp(b, withZone)
		switch {
		case ok:
			return us, nil
		case errRange:
			return nil, timestampRangeError(f, string(b))
		}
		switch infinity(b) {
		case 1:
			return f.use(b, infinityMicros, "9999-12-31 23:59:59.999999")
		case -1:
			return f.use(b, minusInfinityMicros, "0001-01-01 00:00:00")
		}
		return nil, badText("timestamp", b)
	}
}

// timestampRangeError returns the error about the timestamp text of f's
// column beyond the range of int64 micros.
func timestampRangeError(f *fallback, text string) error {
	return &cdc.PermanentError{Err: &rangeError{column: f.column, typ: f.typ, text: text},
		Fix: "exclude the column (source.exclude_columns) or keep its values before 294247-01-10"}
}

// rangeError reports a valid timestamp beyond the range of int64 micros.
type rangeError struct{ column, typ, text string }

// Error implements error.
func (e *rangeError) Error() string {
	return "postgres: column " + e.column + " of type " + e.typ + ": value " + e.text +
		" is beyond the range of a 64-bit microsecond timestamp (up to 294247-01-10)"
}
