package mask

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Canonical returns the text a value of column c is hashed as: the same
// value gives the same text whatever the source or column type, so that
// hashes join across tables (42 in an int and in a bigint column, "ana" in
// a varchar and in a text column). Integers and decimals are plain decimal
// text (decimals with their scale: 59.90), floats the shortest text that
// reads back, booleans true/false, dates 2006-01-02, times 15:04:05.999999,
// timestamps 2006-01-02T15:04:05.999999 (with Z when in UTC), bytes as
// they are, strings as they are, arrays their elements' texts in brackets,
// comma-separated.
func Canonical(c *cdc.Column, v any) []byte {
	return []byte(text(c, v))
}

func text(c *cdc.Column, v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case *big.Int:
		return decimalText(v, c.Scale)
	case int64:
		return int64Text(c.Kind, v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			elem := c
			if c.Elem != nil {
				elem = c.Elem
			}
			parts[i] = text(elem, e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return ""
}

// int64Text formats the int64 kinds: numbers, or dates and times.
func int64Text(k cdc.Kind, v int64) string {
	switch k {
	case cdc.KindDate:
		return time.Unix(v*86400, 0).UTC().Format("2006-01-02")
	case cdc.KindTimeMicros:
		return time.UnixMicro(v).UTC().Format("15:04:05.999999")
	case cdc.KindLocalTimestampMicros:
		return time.UnixMicro(v).UTC().Format("2006-01-02T15:04:05.999999")
	case cdc.KindTimestampMicros:
		return time.UnixMicro(v).UTC().Format("2006-01-02T15:04:05.999999Z")
	}
	return strconv.FormatInt(v, 10)
}

// decimalText formats unscaled * 10^-scale.
func decimalText(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}
