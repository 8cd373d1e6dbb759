package postgres

import (
	"encoding/hex"
	"errors"
	"github.com/fluxo-cdc/fluxo/cdc"
	"math"
	"strconv"
)

// Decoders of scalar values from PostgreSQL's text output format. None of
// them keeps a reference to its input, which the caller may reuse.

// errSyntax is wrapped by decoders' errors about malformed text.
var errSyntax = errors.New("malformed value")

// badText returns the error for text that is not valid for type. Like all
// decoders' errors it is a *cdc.PermanentError: the server sends the same value
// again after a reconnect, so retrying cannot help and the stream must stop.
func badText(typ string, b []byte) error {
	return &cdc.PermanentError{Err: &decodeError{typ: typ, text: string(b)},
		Fix: "fluxo cannot read this text output of the server: exclude the column (source.exclude_columns) and report the value"}
}

// decodeError reports text a decoder could not parse.
type decodeError struct {
	typ, text string
}

// Error implements error.
func (e *decodeError) Error() string {
	return "postgres: malformed " + e.typ + " value " + strconv.Quote(e.text)
}

// Unwrap makes the error match errSyntax.
func (e *decodeError) Unwrap() error { return errSyntax }

// parseInt parses a signed decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c-'0' > 9 {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if neg {
		return -int64(u), u <= 1<<63
	}
	return int64(u), u <= 1<<63-1
}

// decodeInt decodes int2, int4, int8 and oid into int64.
func decodeInt(b []byte) (any, error) {
	if v, ok := parseInt(b); ok {
		return v, nil
	}
	return nil, badText("integer", b)
}

// nan64 and nan32 are the NaNs PostgreSQL's float8in and float4in store for
// 'NaN' (C's NAN, the quiet NaN without payload, as float8send shows), which
// Go's math.NaN (0x7ff8000000000001) is not: decoding "NaN" to them keeps
// the value bit for bit.
var (
	nan64 = math.Float64frombits(0x7ff8000000000000)
	nan32 = math.Float32frombits(0x7fc00000)
)

// decodeFloat64 decodes float8, including NaN, Infinity and -Infinity.
func decodeFloat64(b []byte) (any, error) {
	// string(b) does not escape (strconv clones it for errors), so short
	// inputs convert on the stack.
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return nil, badText("double precision", b)
	}
	if v != v {
		return nan64, nil
	}
	return v, nil
}

// decodeFloat32 decodes float4, including NaN, Infinity and -Infinity.
func decodeFloat32(b []byte) (any, error) {
	v, err := strconv.ParseFloat(string(b), 32)
	if err != nil {
		return nil, badText("real", b)
	}
	if v != v {
		return nan32, nil
	}
	return float32(v), nil
}

// decodeBool decodes bool ("t"/"f").
func decodeBool(b []byte) (any, error) {
	if len(b) == 1 {
		switch b[0] {
		case 't':
			return true, nil
		case 'f':
			return false, nil
		}
	}
	return nil, badText("boolean", b)
}

// decodeBit1 decodes bit(1) ("0"/"1") into a bool.
func decodeBit1(b []byte) (any, error) {
	if len(b) == 1 && (b[0] == '0' || b[0] == '1') {
		return b[0] == '1', nil
	}
	return nil, badText("bit(1)", b)
}

// bitsDecoder decodes bit(n) text ("0101...") into the bits as an unsigned
// big-endian number of ceil(n/8) bytes; n < 1 takes n from the text.
func bitsDecoder(n int) textDecoder {
	return func(b []byte) (any, error) {
		if n >= 1 && len(b) != n {
			return nil, badText("bit", b)
		}
		out := make([]byte, (len(b)+7)/8)
		for i, c := range b {
			pos := len(b) - 1 - i // bit position from the least significant
			switch c {
			case '1':
				out[len(out)-1-pos/8] |= 1 << (pos % 8)
			case '0':
			default:
				return nil, badText("bit", b)
			}
		}
		return out, nil
	}
}

// decodeBytea decodes bytea text in the hex format ("\x0a0b"), or in the
// escape format should the session not use bytea_output = 'hex'.
func decodeBytea(b []byte) (any, error) {
	if len(b) >= 2 && b[0] == '\\' && b[1] == 'x' {
		out := make([]byte, (len(b)-2)/2)
		if _, err := hex.Decode(out, b[2:]); err != nil {
			return nil, badText("bytea", b)
		}
		return out, nil
	}
	return unescapeBytea(b)
}

// unescapeBytea decodes the escape format: "\\" is a backslash and "\nnn"
// an octal byte; other bytes stand for themselves.
func unescapeBytea(b []byte) (any, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] != '\\':
			out = append(out, b[i])
		case i+1 < len(b) && b[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(b) && b[i+1] >= '0' && b[i+1] <= '3' && isOctal(b[i+2]) && isOctal(b[i+3]):
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
		default:
			return nil, badText("bytea", b)
		}
	}
	return out, nil
}

// isOctal reports whether c is an octal digit.
func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// decodeText keeps the text as a string (a copy: b may be reused).
func decodeText(b []byte) (any, error) { return string(b), nil }

// decodeUUID keeps a uuid's canonical text.
func decodeUUID(b []byte) (any, error) {
	if len(b) != 36 {
		return nil, badText("uuid", b)
	}
	return string(b), nil
}
