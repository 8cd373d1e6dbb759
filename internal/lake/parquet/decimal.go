package parquet

import (
	"math/big"
	"math/bits"
)

// putDecimal writes x into dst (len(dst) bytes) as big-endian two's
// complement, sign-extended; the caller has checked that x fits. It reads
// x's words directly and does not allocate.
func putDecimal(dst []byte, x *big.Int) {
	words := x.Bits()
	neg := x.Sign() < 0
	carry := uint(1)
	n := len(dst)
	for i := range n {
		b := wordByte(words, i)
		if neg {
			s := uint(^b) + carry
			b, carry = byte(s), s>>8
		}
		dst[n-1-i] = b
	}
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

// appendDecimalText appends the exact decimal text of unscaled * 10^-scale,
// e.g. "-0.005" for (-5, 3) and "120" for (120, 0).
func appendDecimalText(buf []byte, unscaled *big.Int, scale int) []byte {
	start := len(buf)
	buf = unscaled.Append(buf, 10)
	if scale == 0 {
		return buf
	}
	digits := start
	if buf[start] == '-' {
		digits++
	}
	// Pad with leading zeros so that there is at least one integer digit.
	if n := len(buf) - digits; n <= scale {
		pad := scale + 1 - n
		buf = append(buf, make([]byte, pad)...)
		copy(buf[digits+pad:], buf[digits:len(buf)-pad])
		for i := range pad {
			buf[digits+i] = '0'
		}
	}
	point := len(buf) - scale
	buf = append(buf, 0)
	copy(buf[point+1:], buf[point:len(buf)-1])
	buf[point] = '.'
	return buf
}
