package parquet

import (
	"fmt"
	"math/big"
	"reflect"

	"github.com/fluxo-cdc/fluxo/cdc"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// MaxDecimalPrecision is the largest precision written as a Parquet
// DECIMAL. Spark, Trino and DuckDB cannot read wider decimals, so a
// decimal(p,s) column with p > MaxDecimalPrecision is written as a STRING
// holding the exact decimal text instead (see Writer).
const MaxDecimalPrecision = 38

// uint64Bytes is the FIXED_LEN_BYTE_ARRAY length of DECIMAL(20,0), the
// mapping of KindUint64.
const uint64Bytes = 9

// leaf is what the writer needs to know about a column's (or array
// element's) Parquet values.
type leaf struct {
	col *cdc.Column
	// size is the byte length of a FIXED_LEN_BYTE_ARRAY decimal.
	size int
	// limit is 10^precision for a decimal; |unscaled| must be below it.
	limit *big.Int
	// text reports a decimal written as its exact text (precision above
	// MaxDecimalPrecision).
	text bool
	// why is the message for a decimal with too many digits.
	why string
	// elem describes the elements of an array.
	elem *leaf
	// rep is the repetition level of an array's elements (1 for a column's
	// array, 2 for the arrays inside it, ...).
	rep int
}

// planColumn validates c and returns its leaf description and Parquet
// node; depth is the number of arrays c is nested in.
func planColumn(c *cdc.Column, depth int) (*leaf, pq.Node, error) {
	l := &leaf{col: c}
	var node pq.Node
	switch c.Kind {
	case cdc.KindInt32:
		node = pq.Leaf(pq.Int32Type)
	case cdc.KindInt64, cdc.KindDurationMicros:
		node = pq.Leaf(pq.Int64Type)
	case cdc.KindUint64:
		l.size = uint64Bytes
		node = pq.Decimal(0, 20, pq.FixedLenByteArrayType(uint64Bytes))
	case cdc.KindDecimal:
		if c.Precision < 1 || c.Scale < 0 || c.Scale > c.Precision {
			return nil, nil, fmt.Errorf("column %q: invalid decimal(%d,%d)", c.Name, c.Precision, c.Scale)
		}
		l.limit = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Precision)), nil)
		l.why = fmt.Sprintf("has more than %d digits", c.Precision)
		if c.Precision > MaxDecimalPrecision {
			l.text = true
			node = pq.String()
			break
		}
		l.size = decimalBytes(l.limit)
		node = pq.Decimal(c.Scale, c.Precision, pq.FixedLenByteArrayType(l.size))
	case cdc.KindDecimalText, cdc.KindString, cdc.KindUUID:
		node = pq.String()
	case cdc.KindFloat32:
		node = pq.Leaf(nanSafe{pq.FloatType})
	case cdc.KindFloat64:
		node = pq.Leaf(nanSafe{pq.DoubleType})
	case cdc.KindBool:
		node = pq.Leaf(pq.BooleanType)
	case cdc.KindBytes:
		node = pq.Leaf(pq.ByteArrayType)
	case cdc.KindDate:
		node = pq.Date()
	case cdc.KindTimeMicros:
		node = pq.TimeAdjusted(pq.Microsecond, false)
	case cdc.KindLocalTimestampMicros:
		node = pq.TimestampAdjusted(pq.Microsecond, false)
	case cdc.KindTimestampMicros:
		node = pq.TimestampAdjusted(pq.Microsecond, true)
	case cdc.KindArray:
		if c.Elem == nil {
			return nil, nil, fmt.Errorf("column %q: array without element type", c.Name)
		}
		elem, elemNode, err := planColumn(c.Elem, depth+1)
		if err != nil {
			return nil, nil, fmt.Errorf("column %q: array element: %w", c.Name, err)
		}
		l.elem, l.rep = elem, depth+1
		node = pq.List(elemNode)
	case cdc.KindInvalid:
		return nil, nil, fmt.Errorf("column %q: invalid kind", c.Name)
	default:
		return nil, nil, fmt.Errorf("column %q: unknown kind %s", c.Name, c.Kind)
	}
	return l, pq.Optional(node), nil
}

// decimalBytes returns the smallest n such that n-byte two's complement
// holds every integer of absolute value below limit (10^precision), i.e.
// 2^(8n-1) >= limit.
func decimalBytes(limit *big.Int) int {
	for n := 1; ; n++ {
		if new(big.Int).Lsh(big.NewInt(1), uint(8*n-1)).Cmp(limit) >= 0 {
			return n
		}
	}
}

// orderedGroup is a Parquet group whose fields keep the order given, unlike
// parquet.Group, which sorts them by name: the file's columns are in source
// order, like the fields of the Avro Value record.
type orderedGroup []pq.Field

func (g orderedGroup) ID() int                         { return 0 }
func (g orderedGroup) String() string                  { return pq.NewSchema("", g).String() }
func (g orderedGroup) Type() pq.Type                   { return pq.Group{}.Type() }
func (g orderedGroup) Optional() bool                  { return false }
func (g orderedGroup) Repeated() bool                  { return false }
func (g orderedGroup) Required() bool                  { return true }
func (g orderedGroup) Leaf() bool                      { return false }
func (g orderedGroup) Fields() []pq.Field              { return g }
func (g orderedGroup) Encoding() encoding.Encoding     { return nil }
func (g orderedGroup) Compression() compress.Codec     { return nil }
func (g orderedGroup) GoType() reflect.Type            { return reflect.TypeFor[map[string]any]() }
func (f namedField) Name() string                      { return f.name }
func (f namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// namedField is one field of an orderedGroup.
type namedField struct {
	pq.Node
	name string
}
