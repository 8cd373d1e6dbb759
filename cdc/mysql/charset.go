package mysql

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The binlog carries text in the column's character set, while the
// snapshot reads it through a utf8mb4 connection (the server converts);
// decodeText brings binlog text to UTF-8 so that both paths agree.

// latin1High maps bytes 0x80-0x9F of MySQL's latin1, which is Windows-1252
// with the five bytes Windows leaves undefined mapped to the C1 controls.
var latin1High = [32]rune{
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
}

// decodeText converts text in a MySQL character set to UTF-8. An empty
// charset (not known) is taken as UTF-8. Text in a character set fluxo
// cannot decode is accepted only while it is plain ASCII.
func decodeText(b []byte, charset string) (string, error) {
	switch charset {
	case "", "utf8", "utf8mb3", "utf8mb4", "ascii", "binary": // see isUTF8
		return string(b), nil
	case "latin1":
		return decodeLatin1(b), nil
	case "ucs2", "utf16":
		return decodeUTF16(b, binary.BigEndian)
	case "utf16le":
		return decodeUTF16(b, binary.LittleEndian)
	case "utf32":
		return decodeUTF32(b)
	}
	if charset != "swe7" && isASCII(b) { // swe7 reuses ASCII punctuation for letters
		return string(b), nil
	}
	return "", fmt.Errorf("text in character set %s cannot be decoded from the binlog "+
		"(fluxo decodes utf8mb4, utf8mb3, ascii, latin1, ucs2, utf16, utf16le and utf32): "+
		"convert the column to utf8mb4", charset)
}

func decodeLatin1(b []byte) string {
	if isASCII(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(latin1High[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

func decodeUTF16(b []byte, order binary.ByteOrder) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("utf16 text of odd length %d", len(b))
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

func decodeUTF32(b []byte) (string, error) {
	if len(b)%4 != 0 {
		return "", fmt.Errorf("utf32 text of length %d, not a multiple of 4", len(b))
	}
	var sb strings.Builder
	for i := 0; i < len(b); i += 4 {
		r := rune(binary.BigEndian.Uint32(b[i:]))
		if !utf8.ValidRune(r) {
			return "", fmt.Errorf("utf32 text holds invalid code point %#x", r)
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// isUTF8 reports whether text in charset needs no conversion.
func isUTF8(charset string) bool {
	switch charset {
	case "", "utf8", "utf8mb3", "utf8mb4", "ascii", "binary":
		return true
	}
	return false
}
