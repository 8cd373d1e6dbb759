package mysql

import (
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// converter turns a value decoded by go-mysql (binlog or binary protocol)
// into the Go type that the column's cdc.Kind prescribes.
type converter func(v any) (any, error)

// newConverter returns the converter for a column; values Avro cannot hold
// (zero dates) become nil when the column is nullable, and the documented
// fallback (the Unix epoch) otherwise, with one warning per column.
func newConverter(id cdc.TableID, d colDesc, col cdc.Column, log *slog.Logger) converter {
	var warned atomic.Bool // a chunk read and the stream may convert at once
	invalid := func(v any) (any, error) {
		if log != nil && !warned.Swap(true) {
			log.Warn("value has no Avro representation; using the documented fallback",
				"table", id.String(), "column", d.Name, "value", fmt.Sprint(v),
				"fallback", map[bool]string{true: "null", false: "1970-01-01 (0)"}[col.Optional])
		}
		if col.Optional {
			return nil, nil
		}
		return int64(0), nil
	}
	switch col.Kind {
	case cdc.KindInt32, cdc.KindInt64:
		if bits := unsignedBits[d.Base]; d.Unsigned && bits > 0 {
			return toUnsigned(bits)
		}
		return toInt64
	case cdc.KindUint64:
		return toUint64
	case cdc.KindDecimal:
		return func(v any) (any, error) { return parseDecimal(v, d.Scale) }
	case cdc.KindFloat32:
		return toFloat32
	case cdc.KindFloat64:
		return toFloat64
	case cdc.KindBool:
		return func(v any) (any, error) { b, err := bitBytes(v, 1); return err == nil && b[0] != 0, err }
	case cdc.KindDate:
		return func(v any) (any, error) { return dateValue(v, invalid) }
	case cdc.KindLocalTimestampMicros, cdc.KindTimestampMicros:
		return func(v any) (any, error) { return timestampValue(v, invalid) }
	case cdc.KindDurationMicros:
		return durationValue
	case cdc.KindString, cdc.KindUUID:
		return stringConverter(d)
	}
	return bytesConverter(d)
}

func toInt64(v any) (any, error) {
	switch x := v.(type) {
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return v, nil // already boxed: no allocation
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > 1<<63-1 {
			return nil, fmt.Errorf("integer %d overflows a signed 64-bit value", x)
		}
		return int64(x), nil
	}
	return nil, fmt.Errorf("unexpected integer value %T", v)
}

// unsignedBits is the width of the unsigned integer types that a signed
// Go integer may carry (see toUnsigned); bigint unsigned is KindUint64.
var unsignedBits = map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32}

// toUnsigned converts an unsigned integer column of the given width: the
// binlog decoder hands its values over as signed (decodeRowsSigned), the
// binary protocol as unsigned.
func toUnsigned(bits uint) converter {
	mask := uint64(1)<<bits - 1
	return func(v any) (any, error) {
		switch x := v.(type) {
		case int8:
			return int64(uint64(x) & mask), nil
		case int16:
			return int64(uint64(x) & mask), nil
		case int32:
			return int64(uint64(x) & mask), nil
		}
		return toInt64(v)
	}
}

func toUint64(v any) (any, error) {
	switch x := v.(type) {
	case uint64:
		return x, nil
	case int64:
		return uint64(x), nil // binary protocol hands unsigned bigint over as int64 bits
	}
	i, err := toInt64(v)
	if err != nil {
		return nil, err
	}
	return uint64(i.(int64)), nil
}

func toFloat32(v any) (any, error) {
	switch x := v.(type) {
	case float32:
		return x, nil
	case float64:
		return float32(x), nil
	}
	return nil, fmt.Errorf("unexpected float value %T", v)
}

func toFloat64(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return v, nil
	case float32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("unexpected double value %T", v)
}

// parseDecimal turns decimal text into its unscaled integer at scale.
func parseDecimal(v any, scale int) (any, error) {
	s, ok := asString(v)
	if !ok {
		return nil, fmt.Errorf("unexpected decimal value %T", v)
	}
	if n, ok := cdc.ParseSmallDecimal(s, scale); ok {
		return n, nil
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return nil, fmt.Errorf("decimal %q has more than %d fraction digits", s, scale)
		}
		frac = frac[:scale]
	}
	digits := intPart + frac + strings.Repeat("0", scale-len(frac))
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return nil, fmt.Errorf("bad decimal %q", s)
	}
	return n, nil
}

// bitBytes returns a BIT(n) value as ceil(n/8) big-endian bytes.
func bitBytes(v any, nbits int) ([]byte, error) {
	size := max((nbits+7)/8, 1)
	switch x := v.(type) {
	case int64:
		out := make([]byte, size)
		for i := size - 1; i >= 0; i-- {
			out[i] = byte(x)
			x >>= 8
		}
		return out, nil
	case []byte: // binary protocol: already big-endian
		return leftPad(x, size), nil
	case string:
		return leftPad([]byte(x), size), nil
	}
	return nil, fmt.Errorf("unexpected bit value %T", v)
}

func leftPad(b []byte, size int) []byte {
	if len(b) >= size {
		return b[len(b)-size:]
	}
	out := make([]byte, size)
	copy(out[size-len(b):], b)
	return out
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case serverText:
		return string(x), true
	case []byte:
		return string(x), true
	}
	return "", false
}

func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

func stringConverter(d colDesc) converter {
	if fixedBinaryLength(d.Base) > 0 {
		return fixedBinaryConverter(d)
	}
	switch d.Base {
	case "enum":
		boxed := make([]any, len(d.Members)) // members boxed once, not per row
		for i, m := range d.Members {
			boxed[i] = m
		}
		return func(v any) (any, error) {
			if x, ok := v.(int64); ok && x > 0 && int(x) <= len(boxed) {
				return boxed[x-1], nil
			}
			return enumValue(v, d.Members)
		}
	case "set":
		return func(v any) (any, error) { return setValue(v, d.Members) }
	}
	return func(v any) (any, error) { return textValue(v, d.Charset) }
}

// textValue converts binlog text from charset to UTF-8; the snapshot's
// serverText is UTF-8 already.
func textValue(v any, charset string) (any, error) {
	switch x := v.(type) {
	case serverText:
		return string(x), nil
	case string:
		if isUTF8(charset) {
			return v, nil // already UTF-8 and boxed
		}
		return decodeText([]byte(x), charset)
	case []byte:
		return decodeText(x, charset)
	}
	return nil, fmt.Errorf("unexpected text value %T", v)
}

func enumValue(v any, members []string) (any, error) {
	switch x := v.(type) {
	case int64:
		if x == 0 {
			return "", nil // the error value '' of an invalid enum
		}
		if int(x) > len(members) {
			return nil, fmt.Errorf("enum index %d beyond the %d members known", x, len(members))
		}
		return members[x-1], nil
	case string, []byte, serverText:
		s, _ := asString(x)
		return s, nil
	}
	return nil, fmt.Errorf("unexpected enum value %T", v)
}

func setValue(v any, members []string) (any, error) {
	switch x := v.(type) {
	case int64:
		var parts []string
		for i, m := range members {
			if x&(1<<uint(i)) != 0 {
				parts = append(parts, m)
			}
		}
		return strings.Join(parts, ","), nil
	case string, []byte, serverText:
		s, _ := asString(x)
		return s, nil
	}
	return nil, fmt.Errorf("unexpected set value %T", v)
}

func bytesConverter(d colDesc) converter {
	if isGeometry(d.Base) {
		return geometryValue
	}
	switch d.Base {
	case "bit":
		return func(v any) (any, error) { return bitBytes(v, d.Length) }
	case "binary":
		// The binlog drops trailing zero bytes of BINARY(n); restore them.
		return func(v any) (any, error) {
			b, ok := asBytes(v)
			if !ok {
				return nil, fmt.Errorf("unexpected binary value %T", v)
			}
			if len(b) < d.Length {
				b = append(b[:len(b):len(b)], make([]byte, d.Length-len(b))...)
			}
			return b, nil
		}
	}
	return func(v any) (any, error) {
		if b, ok := asBytes(v); ok {
			return b, nil
		}
		return nil, fmt.Errorf("unexpected binary value %T", v)
	}
}

// geometryValue drops the 4-byte SRID that MySQL stores before the WKB.
func geometryValue(v any) (any, error) {
	b, ok := asBytes(v)
	if !ok || len(b) < 4 {
		return nil, fmt.Errorf("unexpected geometry value %T of %d bytes", v, len(b))
	}
	return b[4:], nil
}

// dateValue converts "YYYY-MM-DD" into days since the epoch.
func dateValue(v any, invalid converter) (any, error) {
	if t, ok := v.(time.Time); ok {
		return daysSinceEpoch(t.Year(), int(t.Month()), t.Day()), nil
	}
	s, ok := asString(v)
	if !ok {
		return nil, fmt.Errorf("unexpected date value %T", v)
	}
	days, zero, err := parseDate(s)
	if zero {
		return invalid(s)
	}
	if err != nil {
		return nil, err
	}
	return days, nil
}

// text is the textual form of a value: a string, or the bytes of a
// protocol buffer (parsed without copying).
type text interface{ ~string | ~[]byte }

// parseDate parses "YYYY-MM-DD" into days since the epoch; zero reports a
// zero month or day, which has no Avro value.
func parseDate[T text](s T) (days int64, zero bool, err error) {
	y, m, d, ok := parseYMD(s)
	if !ok {
		return 0, false, fmt.Errorf("bad date %q", s)
	}
	if m == 0 || d == 0 {
		return 0, true, nil
	}
	return daysSinceEpoch(y, m, d), false, nil
}

// daysSinceEpoch counts the days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (as time.Date does, without its cost; a day
// beyond the month's end runs on into the next month). m is 1 to 12.
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400 // [0, 399]
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func parseYMD[T text](s T) (y, m, d int, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:10])
	return y, m, d, ok1 && ok2 && ok3
}

func atoi[T text](s T) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// timestampValue converts a datetime or timestamp into microseconds since
// the epoch (wall clock as UTC for datetime).
func timestampValue(v any, invalid converter) (any, error) {
	if t, ok := v.(time.Time); ok {
		return t.UnixMicro(), nil
	}
	s, ok := asString(v)
	if !ok {
		return nil, fmt.Errorf("unexpected datetime value %T", v)
	}
	us, zero, err := parseTimestamp(s)
	if zero {
		return invalid(s)
	}
	if err != nil {
		return nil, err
	}
	return us, nil
}

// parseTimestamp parses "YYYY-MM-DD[ HH:MM:SS[.ffffff]]" into microseconds
// since the epoch; zero reports a zero month or day, which has no Avro value.
func parseTimestamp[T text](s T) (us int64, zero bool, err error) {
	y, mo, d, ok := parseYMD(s)
	if !ok {
		return 0, false, fmt.Errorf("bad datetime %q", s)
	}
	if mo == 0 || d == 0 {
		return 0, true, nil
	}
	clock := int64(0)
	if len(s) > 11 {
		c, err := parseClock(s[11:])
		if err != nil {
			return 0, false, fmt.Errorf("bad datetime %q", s)
		}
		clock = c
	}
	return daysSinceEpoch(y, mo, d)*86400_000_000 + clock, false, nil
}

// durationValue converts MySQL TIME text ("-838:59:59.000000") into signed
// microseconds.
func durationValue(v any) (any, error) {
	s, ok := asString(v)
	if !ok {
		return nil, fmt.Errorf("unexpected time value %T", v)
	}
	us, err := parseDuration(s)
	if err != nil {
		return nil, err
	}
	return us, nil
}

// parseDuration parses MySQL TIME text into signed microseconds.
func parseDuration[T text](s T) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	clock := s
	if neg {
		clock = s[1:]
	}
	us, err := parseClock(clock)
	if err != nil {
		return 0, fmt.Errorf("bad time %q", s)
	}
	if neg {
		us = -us
	}
	return us, nil
}

// parseClock parses "H+:MM:SS[.ffffff]" into microseconds.
func parseClock[T text](s T) (int64, error) {
	var fields [3]int
	n, start, end := 0, 0, len(s)
	frac := s[len(s):]
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			end, frac = i, s[i+1:]
			break
		}
	}
	for i := 0; i <= end; i++ {
		if i < end && s[i] != ':' {
			continue
		}
		v, ok := atoi(s[start:i])
		if !ok || n == len(fields) {
			return 0, fmt.Errorf("bad clock %q", s)
		}
		fields[n], n, start = v, n+1, i+1
	}
	if n != len(fields) || len(frac) > 6 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	us := 0
	if len(frac) > 0 {
		f, ok := atoi(frac)
		if !ok {
			return 0, fmt.Errorf("bad clock %q", s)
		}
		for range 6 - len(frac) {
			f *= 10
		}
		us = f
	}
	return (int64(fields[0])*3600+int64(fields[1])*60+int64(fields[2]))*1_000_000 + int64(us), nil
}
