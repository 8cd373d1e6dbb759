package avro

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// encodeFunc appends the Avro encoding of one non-nil value of a column's
// type T (not the null union around it).
type encodeFunc func(buf []byte, v any) ([]byte, error)

// badValue is a value an encodeFunc rejects. The caller, which knows the
// column, turns it into the final message with describe.
type badValue struct {
	want string // the Go type wanted, when v has the wrong type
	why  string // otherwise, what is wrong with v
	v    any
}

// Error implements error; callers normally use describe instead.
func (e *badValue) Error() string { return e.describe("the column") }

// describe renders the problem for a column of the given type.
func (e *badValue) describe(colType string) string {
	if e.want != "" {
		return fmt.Sprintf("want %s for %s, got %T", e.want, colType, e.v)
	}
	return fmt.Sprintf("%v %s for %s", e.v, e.why, colType)
}

// valueError wraps err, an encodeFunc failure for column c, with prefix
// (the column's path or the element's position).
func valueError(prefix string, c *cdc.Column, err error) error {
	var bv *badValue
	if errors.As(err, &bv) {
		return fmt.Errorf("%s: %s", prefix, bv.describe(typeName(c)))
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// typeName is the column type to name in errors.
func typeName(c *cdc.Column) string {
	if c.Type != "" {
		return c.Type
	}
	return c.Kind.String()
}

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

// asInt64 accepts int64 and, leniently, int and int32.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	}
	return 0, false
}

// encInt32 encodes an Avro int from an int64 in the int32 range.
func encInt32(buf []byte, v any) ([]byte, error) {
	n, ok := asInt64(v)
	if !ok {
		return buf, &badValue{want: "int64", v: v}
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, &badValue{why: "out of int32 range", v: v}
	}
	return appendLong(buf, n), nil
}

// encInt64 encodes an Avro long from an int64.
func encInt64(buf []byte, v any) ([]byte, error) {
	n, ok := asInt64(v)
	if !ok {
		return buf, &badValue{want: "int64", v: v}
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
		return buf, &badValue{want: "uint64", v: v}
	}
	return buf, &badValue{why: "is negative", v: v}
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
			return buf, &badValue{want: "*big.Int", v: v}
		}
		if x.CmpAbs(limit) >= 0 {
			return buf, &badValue{why: why, v: v}
		}
		return appendBigDecimal(buf, x), nil
	}
}

// encString encodes a string (or []byte) as an Avro string.
func encString(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendString(buf, x), nil
	case []byte:
		return appendBytes(buf, x), nil
	}
	return buf, &badValue{want: "string", v: v}
}

// encBytes encodes a []byte (or string) as Avro bytes.
func encBytes(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return appendBytes(buf, x), nil
	case string:
		return appendString(buf, x), nil
	}
	return buf, &badValue{want: "[]byte", v: v}
}

// encFloat32 encodes a float32 as an Avro float.
func encFloat32(buf []byte, v any) ([]byte, error) {
	x, ok := v.(float32)
	if !ok {
		return buf, &badValue{want: "float32", v: v}
	}
	return appendFloat(buf, x), nil
}

// encFloat64 encodes a float64 as an Avro double.
func encFloat64(buf []byte, v any) ([]byte, error) {
	x, ok := v.(float64)
	if !ok {
		return buf, &badValue{want: "float64", v: v}
	}
	return appendDouble(buf, x), nil
}

// encBool encodes a bool as an Avro boolean.
func encBool(buf []byte, v any) ([]byte, error) {
	x, ok := v.(bool)
	if !ok {
		return buf, &badValue{want: "bool", v: v}
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
			return buf, &badValue{want: "[]any", v: v}
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
				return buf, valueError(fmt.Sprintf("element %d", i), elem, err)
			}
		}
		return append(buf, 0), nil
	}, nil
}
