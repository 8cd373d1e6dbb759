package cdc

import (
	"math/big"
	"math/bits"
)

// ParseSmallDecimal parses decimal text ("-12.30") of at most 18 digits into
// its unscaled value at scale (the KindDecimal value), in one allocation.
// ok is false when the text needs the general path: more digits, more
// fraction digits than scale, or anything but digits, one '.' and a leading
// '-'.
func ParseSmallDecimal[T ~string | ~[]byte](s T, scale int) (n *big.Int, ok bool) {
	u, neg, ok := ParseSmallUnscaled(s, scale)
	if !ok {
		return nil, false
	}
	return NewUnscaled(u, neg), true
}

// ParseSmallUnscaled is ParseSmallDecimal without the big.Int: the unscaled
// magnitude and its sign, for a caller that builds the value itself.
func ParseSmallUnscaled[T ~string | ~[]byte](s T, scale int) (u uint64, neg, ok bool) {
	neg = len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	digits, frac, dot := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' && !dot {
			dot = true
			continue
		}
		if c-'0' > 9 || (dot && frac == scale) {
			return 0, false, false
		}
		if dot {
			frac++
		}
		u = u*10 + uint64(c-'0')
		if digits++; digits > 18 {
			return 0, false, false
		}
	}
	for ; frac < scale; frac++ {
		if digits++; digits > 18 {
			return 0, false, false
		}
		u *= 10
	}
	if digits == 0 {
		return 0, false, false
	}
	return u, neg, true
}

// SmallDecimal holds a big.Int and its one-word magnitude together, so
// that a decimal of at most 64 bits is one allocation (or one slot of a
// block, see internal/boxarena).
type SmallDecimal struct {
	n big.Int
	w [1]big.Word
}

// Set sets the zero d to u, negated when neg, and returns it as a
// *big.Int; on 64-bit platforms its magnitude lives in d.
func (d *SmallDecimal) Set(u uint64, neg bool) *big.Int {
	switch {
	case bits.UintSize != 64:
		d.n.SetUint64(u)
	case u != 0:
		d.w[0] = big.Word(u)
		d.n.SetBits(d.w[:])
	}
	if neg {
		d.n.Neg(&d.n)
	}
	return &d.n
}

// NewUnscaled returns u, negated when neg, as a *big.Int in one allocation
// on 64-bit platforms.
func NewUnscaled(u uint64, neg bool) *big.Int { return new(SmallDecimal).Set(u, neg) }
