package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/boxarena"
)

// valueDecoder decodes one column value of a full-load read, in binary or
// text format, boxing what it returns with bx (the read's own).
type valueDecoder func(b []byte, bx *boxarena.Arena) (any, error)

// textValue adapts a text decoder.
func textValue(dec textDecoder) valueDecoder {
	return func(b []byte, _ *boxarena.Arena) (any, error) { return dec(b) }
}

// Decoders of values in PostgreSQL's binary format (the types' send
// functions), for the full load, which asks for the common types in binary
// because they decode faster. Each yields exactly the value (and the error,
// and the fallback with its warning) that the text decoder of the same
// column yields for the same data; a type without one here is read as text.
// Like the text decoders, none keeps a reference to its input.

// PostgreSQL's epoch, 2000-01-01, in days and microseconds since 1970-01-01.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * usPerDay
)

// binaryDecoder returns the decoder of the binary format of the base type
// oid (typtype is its pg_type.typtype) for col, whose kind the catalog has
// set from the same type, or nil when the type is read as text. f is the
// column's fallback.
func binaryDecoder(col *cdc.Column, oid uint32, typtype byte, f *fallback) valueDecoder {
	switch {
	case typtype == 'e':
		if col.Kind == cdc.KindString {
			return decodeBinaryText // enum_send sends the label
		}
		return nil
	case oid == pgtype.NumericOID:
		if col.Kind == cdc.KindDecimal {
			return numericBinaryDecoder(col.Scale, f)
		}
		return nil // an unconstrained numeric keeps numeric_out's text
	}
	if kind, dec := binaryDecoderOf(oid, f); dec != nil && kind == col.Kind {
		return dec
	}
	return nil
}

// binaryDecoderOf returns the kind and the binary decoder of a built-in
// type other than numeric, or a nil decoder.
func binaryDecoderOf(oid uint32, f *fallback) (cdc.Kind, valueDecoder) {
	switch oid {
	case pgtype.BoolOID:
		return cdc.KindBool, decodeBinaryBool
	case pgtype.Int2OID:
		return cdc.KindInt32, decodeBinaryInt2
	case pgtype.Int4OID:
		return cdc.KindInt32, decodeBinaryInt4
	case pgtype.Int8OID:
		return cdc.KindInt64, decodeBinaryInt8
	case pgtype.OIDOID:
		return cdc.KindInt64, decodeBinaryOID
	case pgtype.Float4OID:
		return cdc.KindFloat32, decodeBinaryFloat4
	case pgtype.Float8OID:
		return cdc.KindFloat64, decodeBinaryFloat8
	case moneyOID:
		return cdc.KindDecimal, decodeBinaryMoney
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.JSONOID:
		return cdc.KindString, decodeBinaryText
	case pgtype.JSONBOID:
		return cdc.KindString, decodeBinaryJSONB
	case pgtype.ByteaOID:
		return cdc.KindBytes, decodeBinaryBytea
	case pgtype.UUIDOID:
		return cdc.KindUUID, decodeBinaryUUID
	case pgtype.DateOID:
		return cdc.KindDate, binaryDateDecoder(f)
	case pgtype.TimeOID:
		return cdc.KindTimeMicros, decodeBinaryTime
	case pgtype.TimestampOID:
		return cdc.KindLocalTimestampMicros, binaryTimestampDecoder(f, false)
	case pgtype.TimestamptzOID:
		return cdc.KindTimestampMicros, binaryTimestampDecoder(f, true)
	}
	return cdc.KindInvalid, nil
}

// badBinary returns the error about a binary value of type typ that is not
// what its send function produces (shown in hex).
func badBinary(typ string, b []byte) error {
	return badText("binary "+typ, []byte(`\x`+hex.EncodeToString(b)))
}

func decodeBinaryBool(b []byte, _ *boxarena.Arena) (any, error) {
	if len(b) != 1 {
		return nil, badBinary("boolean", b)
	}
	return b[0] != 0, nil
}

func decodeBinaryInt2(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 2 {
		return nil, badBinary("smallint", b)
	}
	return bx.Int64(int64(int16(binary.BigEndian.Uint16(b)))), nil
}

func decodeBinaryInt4(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 4 {
		return nil, badBinary("integer", b)
	}
	return bx.Int64(int64(int32(binary.BigEndian.Uint32(b)))), nil
}

func decodeBinaryInt8(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 8 {
		return nil, badBinary("bigint", b)
	}
	return bx.Int64(int64(binary.BigEndian.Uint64(b))), nil
}

func decodeBinaryOID(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 4 {
		return nil, badBinary("oid", b)
	}
	return bx.Int64(int64(binary.BigEndian.Uint32(b))), nil
}

// decodeBinaryFloat4 keeps the bits, but any NaN becomes the one the text
// decoder yields for "NaN".
func decodeBinaryFloat4(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 4 {
		return nil, badBinary("real", b)
	}
	v := math.Float32frombits(binary.BigEndian.Uint32(b))
	if v != v {
		return nan32, nil
	}
	return bx.Float32(v), nil
}

func decodeBinaryFloat8(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 8 {
		return nil, badBinary("double precision", b)
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(b))
	if v != v {
		return nan64, nil
	}
	return bx.Float64(v), nil
}

// decodeBinaryMoney decodes money (an int64 count of cents).
func decodeBinaryMoney(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 8 {
		return nil, badBinary("money", b)
	}
	v := int64(binary.BigEndian.Uint64(b))
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	return bx.Decimal(u, v < 0), nil
}

// decodeBinaryText decodes the types whose send function sends their text:
// text, varchar, bpchar (padded), name, json and enums.
func decodeBinaryText(b []byte, bx *boxarena.Arena) (any, error) { return bx.String(b), nil }

// decodeBinaryJSONB decodes jsonb: a version byte (1), then the text.
func decodeBinaryJSONB(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) < 1 || b[0] != 1 {
		return nil, badBinary("jsonb", b)
	}
	return bx.String(b[1:]), nil
}

func decodeBinaryBytea(b []byte, bx *boxarena.Arena) (any, error) {
	return bx.Bytes(b), nil
}

// decodeBinaryUUID renders the 16 bytes as uuid_out does.
func decodeBinaryUUID(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 16 {
		return nil, badBinary("uuid", b)
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return bx.String(s[:]), nil
}

// binaryDateDecoder decodes date (int32 days since 2000-01-01, the extremes
// standing for -infinity and infinity), as dateDecoder does its text.
func binaryDateDecoder(f *fallback) valueDecoder {
	return func(b []byte, bx *boxarena.Arena) (any, error) {
		if len(b) != 4 {
			return nil, badBinary("date", b)
		}
		switch v := int32(binary.BigEndian.Uint32(b)); v {
		case math.MaxInt32:
			return f.use([]byte("infinity"), infinityDays, "9999-12-31")
		case math.MinInt32:
			return f.use([]byte("-infinity"), minusInfinityDays, "0001-01-01")
		default:
			return bx.Int64(int64(v) + pgEpochDays), nil
		}
	}
}

// decodeBinaryTime decodes time (int64 microseconds since midnight).
func decodeBinaryTime(b []byte, bx *boxarena.Arena) (any, error) {
	if len(b) != 8 {
		return nil, badBinary("time", b)
	}
	return bx.Int64(int64(binary.BigEndian.Uint64(b))), nil
}

// binaryTimestampDecoder decodes timestamp and timestamptz (int64
// microseconds since 2000-01-01, the extremes standing for -infinity and
// infinity), as timestampDecoder does their text.
func binaryTimestampDecoder(f *fallback, withZone bool) valueDecoder {
	return func(b []byte, bx *boxarena.Arena) (any, error) {
		if len(b) != 8 {
			return nil, badBinary("timestamp", b)
		}
		switch v := int64(binary.BigEndian.Uint64(b)); {
		case v == math.MaxInt64:
			return f.use([]byte("infinity"), infinityMicros, "9999-12-31 23:59:59.999999")
		case v == math.MinInt64:
			return f.use([]byte("-infinity"), minusInfinityMicros, "0001-01-01 00:00:00")
		case v > math.MaxInt64-pgEpochMicros:
			return nil, timestampRangeError(f, formatPGTimestamp(v, withZone))
		default:
			return bx.Int64(v + pgEpochMicros), nil
		}
	}
}

// formatPGTimestamp renders microseconds since 2000-01-01 as timestamp_out
// does under DateStyle ISO (with "+00" for a timestamptz in UTC), for
// messages.
func formatPGTimestamp(us int64, withZone bool) string {
	days, rem := us/usPerDay, us%usPerDay
	if rem < 0 {
		days, rem = days-1, rem+usPerDay
	}
	y, m, d := civilFromDays(days + pgEpochDays)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	buf := make([]byte, 0, 40)
	buf = appendPadded(buf, y, 4)
	buf = append(buf, '-')
	buf = appendPadded(buf, int64(m), 2)
	buf = append(buf, '-')
	buf = appendPadded(buf, int64(d), 2)
	buf = append(buf, ' ')
	secs, frac := rem/usPerSecond, rem%usPerSecond
	buf = appendPadded(buf, secs/3600, 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, secs/60%60, 2)
	buf = append(buf, ':')
	buf = appendPadded(buf, secs%60, 2)
	if frac != 0 {
		f := []byte(strconv.FormatInt(frac+usPerSecond, 10))[1:] // six digits
		for f[len(f)-1] == '0' {
			f = f[:len(f)-1]
		}
		buf = append(append(buf, '.'), f...)
	}
	if withZone {
		buf = append(buf, "+00"...)
	}
	if bc {
		buf = append(buf, " BC"...)
	}
	return string(buf)
}

// appendPadded appends v (>= 0) in decimal, zero-padded to width digits.
func appendPadded(buf []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// civilFromDays returns the proleptic Gregorian date (astronomical year) of
// days since 1970-01-01, after H. Hinnant's civil_from_days; it inverts
// daysFromCivil.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era-- // floor division
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// Sign words of numeric_send.
const (
	numSignPos  = 0x0000
	numSignNeg  = 0x4000
	numSignNaN  = 0xC000
	numSignPInf = 0xD000
	numSignNInf = 0xF000
)

// numericBinaryDecoder decodes numeric(p,s) in binary — ndigits, weight,
// sign, dscale (int16 each), then ndigits base-10000 digits, the first
// worth 10000^weight — into its unscaled value at scale, as numericColumn's
// decoder does its text: NaN falls back through f, digits beyond the scale
// must be zero.
func numericBinaryDecoder(scale int, f *fallback) valueDecoder {
	return func(b []byte, bx *boxarena.Arena) (any, error) {
		if len(b) < 8 {
			return nil, badBinary("numeric", b)
		}
		nd := int(int16(binary.BigEndian.Uint16(b)))
		weight := int(int16(binary.BigEndian.Uint16(b[2:])))
		sign := binary.BigEndian.Uint16(b[4:])
		digits := b[8:]
		if nd < 0 || len(digits) != 2*nd {
			return nil, badBinary("numeric", b)
		}
		switch sign {
		case numSignPos, numSignNeg:
		case numSignNaN:
			return numericNaN(f)
		case numSignPInf:
			return nil, badText("numeric", []byte("Infinity"))
		case numSignNInf:
			return nil, badText("numeric", []byte("-Infinity"))
		default:
			return nil, badBinary("numeric", b)
		}
		neg := sign == numSignNeg
		if nd == 0 {
			return cdc.NewUnscaled(0, false), nil
		}
		// The value is the digits' integer times 10^exp at the scale.
		exp := 4*(weight-nd+1) + scale
		if nd <= 4 && exp >= -4 && exp < len(pow10) {
			var u uint64
			for i := 0; i < nd; i++ {
				d := binary.BigEndian.Uint16(digits[2*i:])
				if d > 9999 {
					return nil, badBinary("numeric", b)
				}
				u = u*10000 + uint64(d) // 16 digits at most
			}
			if exp < 0 {
				p := pow10[-exp]
				if u%p != 0 {
					return nil, badText("numeric", []byte(numericText(b)))
				}
				return bx.Decimal(u/p, neg), nil
			}
			if hi, lo := bits.Mul64(u, pow10[exp]); hi == 0 {
				return bx.Decimal(lo, neg), nil
			}
		}
		return numericBig(b, digits, exp, neg)
	}
}

// numericBig is the general case of numericBinaryDecoder.
func numericBig(b, groups []byte, exp int, neg bool) (any, error) {
	dec := make([]byte, 0, 2*len(groups)+max(exp, 0))
	for i := 0; i < len(groups); i += 2 {
		d := binary.BigEndian.Uint16(groups[i:])
		if d > 9999 {
			return nil, badBinary("numeric", b)
		}
		dec = append(dec, byte(d/1000), byte(d/100%10), byte(d/10%10), byte(d%10))
	}
	if exp < 0 {
		cut := max(len(dec)+exp, 0)
		for _, d := range dec[cut:] {
			if d != 0 {
				return nil, badText("numeric", []byte(numericText(b)))
			}
		}
		dec = dec[:cut]
	}
	for ; exp > 0; exp-- {
		dec = append(dec, 0)
	}
	if len(dec) == 0 {
		return cdc.NewUnscaled(0, false), nil
	}
	return bigFromDigits(dec, neg), nil
}

// numericText renders a binary numeric as numeric_out does, for messages;
// b must have passed numericBinaryDecoder's checks.
func numericText(b []byte) string {
	nd := int(int16(binary.BigEndian.Uint16(b)))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	dscale := int(int16(binary.BigEndian.Uint16(b[6:])))
	digit := func(i int) int { // base-10000 digit i (0: the first), 0 outside
		if i < 0 || i >= nd {
			return 0
		}
		return int(binary.BigEndian.Uint16(b[8+2*i:]))
	}
	var out []byte
	if binary.BigEndian.Uint16(b[4:]) == numSignNeg {
		out = append(out, '-')
	}
	if weight < 0 {
		out = append(out, '0')
	}
	for i := 0; i <= weight; i++ {
		s := strconv.Itoa(digit(i))
		if i > 0 {
			s = strconv.Itoa(digit(i) + 10000)[1:]
		}
		out = append(out, s...)
	}
	if dscale > 0 {
		out = append(out, '.')
		for i, n := weight+1, 0; n < dscale; i++ {
			s := strconv.Itoa(digit(i) + 10000)[1:]
			for _, c := range []byte(s) {
				if n < dscale {
					out = append(out, c)
					n++
				}
			}
		}
	}
	return string(out)
}
