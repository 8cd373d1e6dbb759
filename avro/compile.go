package avro

import (
	"fmt"
	"math"
	"math/big"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// encodeFunc appends the Avro encoding of one non-nil value of a column's
// type T (not the null union around it).
type encodeFunc func(buf []byte, v any) ([]byte, error)

// compile returns the encodeFunc of a column's kind.
func compile(c *cdc.Column) (encodeFunc, error) {
	if err := checkColumn(c); err != nil {
		return nil, err
	}
	switch c.Kind {
	case cdc.KindInt32, cdc.KindDate:
		return encInt32, nil
	case cdc.KindInt64, cdc.KindTimeMicros, cdc.KindDurationMicros,
		cdc.KindLocalTimestampMicros, cdc.KindTimestampMicros:
		return encInt64, nil
	case cdc.KindUint64:
		return encUint64, nil
	case cdc.KindDecimal:
		return decimalEncoder(c.Precision), nil
	case cdc.KindDecimalText, cdc.KindString, cdc.KindUUID:
		return encString, nil
	case cdc.KindFloat32:
		return encFloat32, nil
	case cdc.KindFloat64:
		return encFloat64, nil
	case cdc.KindBool:
		return encBool, nil
	case cdc.KindBytes:
		return encBytes, nil
	}
	return arrayEncoder(c.Elem) // KindArray; checkColumn rejected the rest
}

// encInt32 encodes an Avro int from an int64 in the int32 range.
func encInt32(buf []byte, v any) ([]byte, error) {
	n, ok := cdc.AsInt64(v)
	if !ok {
		return buf, &cdc.BadValue{Want: "int64", V: v}
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, &cdc.BadValue{Why: "out of int32 range", V: v}
	}
	return appendLong(buf, n), nil
}

// encInt64 encodes an Avro long from an int64.
func encInt64(buf []byte, v any) ([]byte, error) {
	n, ok := cdc.AsInt64(v)
	if !ok {
		return buf, &cdc.BadValue{Want: "int64", V: v}
	}
	return appendLong(buf, n), nil
}

// encUint64 encodes a uint64 (or a non-negative int or int32) as
// decimal(20,0) bytes.
func encUint64(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case uint64:
		return appendUint64Decimal(buf, x), nil
	case int:
		if x >= 0 {
			return appendUint64Decimal(buf, uint64(x)), nil
		}
	case int32:
		if x >= 0 {
			return appendUint64Decimal(buf, uint64(x)), nil
		}
	default:
		return buf, &cdc.BadValue{Want: "uint64", V: v}
	}
	return buf, &cdc.BadValue{Why: "is negative", V: v}
}

// decimalEncoder encodes the unscaled *big.Int of a decimal(precision, s)
// as two's-complement bytes, rejecting values with more than precision
// digits.
func decimalEncoder(precision int) encodeFunc {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
	why := fmt.Sprintf("has more than %d digits", precision)
	return func(buf []byte, v any) ([]byte, error) {
		x, ok := v.(*big.Int)
		if !ok || x == nil {
			return buf, &cdc.BadValue{Want: "*big.Int", V: v}
		}
		if x.CmpAbs(limit) >= 0 {
			return buf, &cdc.BadValue{Why: why, V: v}
		}
		return appendBigDecimal(buf, x), nil
	}
}

// encString encodes a string (or []byte) as an Avro string, which must be
// valid UTF-8.
func encString(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		if err := cdc.CheckUTF8(x); err != nil {
			return buf, err
		}
		return appendString(buf, x), nil
	case []byte:
		if err := cdc.CheckUTF8Bytes(x); err != nil {
			return buf, err
		}
		return appendBytes(buf, x), nil
	}
	return buf, &cdc.BadValue{Want: "string", V: v}
}

// encBytes encodes a []byte (or string) as Avro bytes.
func encBytes(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return appendBytes(buf, x), nil
	case string:
		return appendString(buf, x), nil
	}
	return buf, &cdc.BadValue{Want: "[]byte", V: v}
}

// encFloat32 encodes a float32 as an Avro float.
func encFloat32(buf []byte, v any) ([]byte, error) {
	x, ok := v.(float32)
	if !ok {
		return buf, &cdc.BadValue{Want: "float32", V: v}
	}
	return appendFloat(buf, x), nil
}

// encFloat64 encodes a float64 as an Avro double.
func encFloat64(buf []byte, v any) ([]byte, error) {
	x, ok := v.(float64)
	if !ok {
		return buf, &cdc.BadValue{Want: "float64", V: v}
	}
	return appendDouble(buf, x), nil
}

// encBool encodes a bool as an Avro boolean.
func encBool(buf []byte, v any) ([]byte, error) {
	x, ok := v.(bool)
	if !ok {
		return buf, &cdc.BadValue{Want: "bool", V: v}
	}
	return appendBool(buf, x), nil
}

// arrayEncoder encodes a []any as an Avro array of ["null", E], in one
// block.
func arrayEncoder(elem *cdc.Column) (encodeFunc, error) {
	enc, err := compile(elem)
	if err != nil {
		return nil, err
	}
	return func(buf []byte, v any) ([]byte, error) {
		items, ok := v.([]any)
		if !ok {
			return buf, &cdc.BadValue{Want: "[]any", V: v}
		}
		if len(items) == 0 {
			return append(buf, 0), nil
		}
		buf = appendLong(buf, int64(len(items)))
		for i, item := range items {
			if item == nil {
				buf = append(buf, unionNull)
				continue
			}
			var err error
			if buf, err = enc(append(buf, unionValue), item); err != nil {
				return buf, cdc.ValueError(fmt.Sprintf("element %d", i), elem, err)
			}
		}
		return append(buf, 0), nil
	}, nil
}
