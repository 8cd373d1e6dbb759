package avro

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
)

// Avro binary primitives. Each appends to buf and returns the extended
// slice; none allocates beyond growing buf.

// appendLong appends v as a zigzag varint (Avro int and long).
func appendLong(buf []byte, v int64) []byte {
	return binary.AppendUvarint(buf, uint64(v<<1)^uint64(v>>63))
}

// appendBool appends an Avro boolean.
func appendBool(buf []byte, v bool) []byte {
	if v {
		return append(buf, 1)
	}
	return append(buf, 0)
}

// appendFloat appends an Avro float (little-endian IEEE 754 binary32).
func appendFloat(buf []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
}

// appendDouble appends an Avro double (little-endian IEEE 754 binary64).
func appendDouble(buf []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
}

// appendString appends an Avro string: its byte length, then its bytes.
func appendString(buf []byte, s string) []byte {
	buf = appendLong(buf, int64(len(s)))
	return append(buf, s...)
}

// appendBytes appends Avro bytes: the length, then the bytes.
func appendBytes(buf []byte, b []byte) []byte {
	buf = appendLong(buf, int64(len(b)))
	return append(buf, b...)
}

// appendUint64Decimal appends u as Avro bytes holding its minimal
// big-endian two's-complement form (so values >= 2^63 get a leading 0x00).
func appendUint64Decimal(buf []byte, u uint64) []byte {
	n := bits.Len64(u)/8 + 1 // at most 9
	buf = appendLong(buf, int64(n))
	for i := n - 1; i >= 0; i-- {
		buf = append(buf, byte(u>>(8*i))) // a shift by 64 gives 0
	}
	return buf
}

// appendBigDecimal appends x as Avro bytes holding its minimal big-endian
// two's-complement form. Zero is one 0x00 byte (Java's BigInteger rejects an
// empty array). It reads x's words directly and does not allocate.
func appendBigDecimal(buf []byte, x *big.Int) []byte {
	n := twosComplementLen(x)
	buf = appendLong(buf, int64(n))
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	out := buf[start:]
	words := x.Bits()
	neg := x.Sign() < 0
	carry := uint(1)
	for i := range n {
		b := wordByte(words, i)
		if neg {
			s := uint(^b) + carry
			b, carry = byte(s), s>>8
		}
		out[n-1-i] = b
	}
	return buf
}

// twosComplementLen returns the number of bytes of x's minimal two's-
// complement form.
func twosComplementLen(x *big.Int) int {
	bl := x.BitLen()
	if bl == 0 {
		return 1
	}
	if x.Sign() < 0 && x.TrailingZeroBits() == uint(bl-1) {
		// -2^k fits in exactly k+1 bits.
		return (bl + 7) / 8
	}
	return bl/8 + 1
}

// wordByte returns byte i (0 = least significant) of the little-endian
// magnitude words, or 0 past their end.
func wordByte(words []big.Word, i int) byte {
	const wordBytes = bits.UintSize / 8
	w := i / wordBytes
	if w >= len(words) {
		return 0
	}
	return byte(words[w] >> (8 * (i % wordBytes)))
}

// AppendConfluentHeader appends the Confluent wire-format header: the magic
// byte 0 followed by the schema id as 4 big-endian bytes.
func AppendConfluentHeader(buf []byte, schemaID int32) []byte {
	buf = append(buf, 0)
	return binary.BigEndian.AppendUint32(buf, uint32(schemaID))
}
