package postgres

import (
	"math/big"
	"math/bits"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// numericTypmod decodes the precision and scale of numeric(p,s) from its
// type modifier; ok is false for an unconstrained numeric. The scale is an
// 11-bit signed field since PostgreSQL 15 (numeric(2,-3)); for earlier
// versions' scales (0..1000) both encodings agree.
func numericTypmod(typmod int32) (precision, scale int, ok bool) {
	if typmod < 4 { // VARHDRSZ
		return 0, 0, false
	}
	v := typmod - 4
	return int(v>>16) & 0xffff, int((v&0x7ff)^1024) - 1024, true
}

// avroDecimal maps numeric(p,s) onto an Avro decimal, which needs
// 0 <= scale <= precision: a negative scale (values are multiples of
// 10^-s) becomes decimal(p-s, 0), and a scale above the precision (values
// below 10^(p-s)) becomes decimal(s, s). Every value keeps its exact value.
func avroDecimal(p, s int) (precision, scale int) {
	switch {
	case s < 0:
		return p - s, 0
	case s > p:
		return s, s
	}
	return p, s
}

// parseDecimal turns numeric text ("-12.30") into its unscaled value at
// scale; more fraction digits than scale are accepted only when zero.
func parseDecimal(b []byte, scale int) (*big.Int, bool) {
	if n, ok := cdc.ParseSmallDecimal(b, scale); ok {
		return n, true
	}
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	digits := make([]byte, 0, len(b)+scale)
	frac := -1 // fraction digits seen, -1 before the point
	for _, c := range b {
		switch {
		case c == '.' && frac < 0:
			frac = 0
		case c-'0' <= 9 && frac < scale:
			digits = append(digits, c-'0')
			if frac >= 0 {
				frac++
			}
		case c == '0': // a zero beyond the scale
		default:
			return nil, false
		}
	}
	for frac = max(frac, 0); frac < scale; frac++ {
		digits = append(digits, 0)
	}
	if len(digits) == 0 {
		return nil, false
	}
	return bigFromDigits(digits, neg), true
}

// pow10 holds 10^0 to 10^19.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// bigFromDigits returns the integer of the decimal digit values (0-9, most
// significant first), negated when neg, multiplying 19 digits at a time into
// little-endian words.
func bigFromDigits(digits []byte, neg bool) *big.Int {
	if bits.UintSize != 64 {
		s := make([]byte, len(digits))
		for i, d := range digits {
			s[i] = '0' + d
		}
		n, _ := new(big.Int).SetString(string(s), 10)
		return setSign(n, neg)
	}
	words := make([]big.Word, 0, len(digits)/19+1) // 19 digits fit a word
	for len(digits) > 0 {
		k := min(len(digits), 19)
		var chunk uint64
		for _, d := range digits[:k] {
			chunk = chunk*10 + uint64(d)
		}
		digits = digits[k:]
		for i, w := range words { // words = words*10^k + chunk
			hi, lo := bits.Mul64(uint64(w), pow10[k])
			var c uint64
			lo, c = bits.Add64(lo, chunk, 0)
			words[i], chunk = big.Word(lo), hi+c
		}
		if chunk != 0 {
			words = append(words, big.Word(chunk))
		}
	}
	return setSign(new(big.Int).SetBits(words), neg)
}

// setSign negates n when neg and returns it.
func setSign(n *big.Int, neg bool) *big.Int {
	if neg {
		n.Neg(n)
	}
	return n
}

// moneyPrecision and moneyScale describe money under lc_monetary 'C' (see
// sessionSetup): an int64 count of cents.
const (
	moneyPrecision = 19
	moneyScale     = 2
)

// parseMoney parses money text under lc_monetary 'C' — "$1,234.56",
// "-$1,234.56" or "($1,234.56)" — into its unscaled value in cents. Other
// locales' formats (other symbols or separators, other fraction digits)
// fail rather than being misread.
func parseMoney(b []byte) (*big.Int, bool) {
	neg := len(b) > 0 && (b[0] == '-' || b[0] == '(')
	if neg {
		if b[0] == '(' {
			if b[len(b)-1] != ')' {
				return nil, false
			}
			b = b[:len(b)-1]
		}
		b = b[1:]
	}
	if len(b) > 0 && b[0] == '$' {
		b = b[1:]
	}
	var u uint64
	digits, frac := 0, -1
	for _, c := range b {
		switch {
		case c == '.' && frac < 0:
			frac = 0
		case c == ',' && frac < 0 && digits > 0:
		case c-'0' <= 9 && frac < moneyScale && digits < 19:
			u = u*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		default:
			return nil, false
		}
	}
	if frac != moneyScale || u > 1<<63 || (u == 1<<63 && !neg) {
		return nil, false
	}
	return cdc.NewUnscaled(u, neg), true
}
