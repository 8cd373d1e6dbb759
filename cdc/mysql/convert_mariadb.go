package mysql

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// MariaDB's fixed-binary types (UUID, INET6, INET4) reach clients as text
// but travel in the binlog as BINARY(n) bytes with the trailing zero bytes
// dropped: the table map says binary(16) or binary(4), and only
// information_schema knows the real type.

// fixedBinaryLength is the storage size of a MariaDB fixed-binary type, or
// 0 for any other base.
func fixedBinaryLength(base string) int {
	switch base {
	case "uuid", "inet6":
		return 16
	case "inet4":
		return 4
	}
	return 0
}

// serverText is a value the server already rendered as text (the snapshot
// reads fixed-binary types through the client protocol), as opposed to the
// raw bytes the binlog carries.
type serverText string

// fixedBinaryConverter renders raw binlog bytes the way MariaDB prints them
// and passes server-rendered text through.
func fixedBinaryConverter(d colDesc) converter {
	size := fixedBinaryLength(d.Base)
	format := map[string]func([]byte) string{"uuid": uuidText, "inet6": inet6Text, "inet4": inet4Text}[d.Base]
	return func(v any) (any, error) {
		if s, ok := v.(serverText); ok {
			if d.Base == "uuid" {
				return strings.ToLower(string(s)), nil
			}
			return string(s), nil
		}
		b, ok := asBytes(v)
		if !ok || len(b) > size {
			return nil, fmt.Errorf("unexpected %s value %T of %d bytes", d.Base, v, len(b))
		}
		return format(rightPad(b, size)), nil
	}
}

// rightPad restores the trailing zero bytes the binlog drops from BINARY(n).
func rightPad(b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	return append(b[:len(b):len(b)], make([]byte, size-len(b))...)
}

// uuidText formats 16 bytes as 8-4-4-4-12 lower-case hex.
func uuidText(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func inet4Text(b []byte) string {
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
}

// inet6Text formats 16 bytes as MariaDB's Inet6::to_string does: lower-case
// hex groups, the first longest run of zero groups (even a single one)
// written as "::", and IPv4-compatible (::a.b.c.d) and IPv4-mapped
// (::ffff:a.b.c.d) addresses with a dotted IPv4 tail.
func inet6Text(b []byte) string {
	var w [8]int
	for i := range w {
		w[i] = int(b[2*i])<<8 | int(b[2*i+1])
	}
	gapPos, gapLen := longestZeroRun(w)
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		switch {
		case i == gapPos:
			if i == 0 {
				sb.WriteByte(':')
			}
			sb.WriteByte(':')
			i += gapLen - 1
		case i == 6 && gapPos == 0 && (gapLen == 6 || gapLen == 5 && w[5] == 0xffff):
			sb.WriteString(inet4Text(b[12:]))
			return sb.String()
		default:
			sb.WriteString(strconv.FormatInt(int64(w[i]), 16))
			if i != 7 {
				sb.WriteByte(':')
			}
		}
	}
	return sb.String()
}

// longestZeroRun returns the start and length of the first longest run of
// zero words, or -1, -1.
func longestZeroRun(w [8]int) (pos, length int) {
	pos, length = -1, -1
	start := -1
	for i := 0; i <= len(w); i++ {
		if i < len(w) && w[i] == 0 {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > length {
			pos, length = start, i-start
		}
		start = -1
	}
	return pos, length
}
