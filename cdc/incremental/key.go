package incremental

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Key encodes the key columns of row (t.Key) into a string that is equal
// for two rows exactly when their keys are: every value is written with its
// Go type, so that 1 (int64) and "1" (string) differ, and lengths are
// explicit, so that ("ab", "c") and ("a", "bc") differ. A table without a
// key gives every row the whole row as its key.
func Key(t *cdc.Table, row []any) string {
	b := make([]byte, 0, 16*max(len(t.Key), 1))
	if len(t.Key) == 0 {
		for _, v := range row {
			b = appendValue(b, v)
		}
		return string(b)
	}
	for _, i := range t.Key {
		b = appendValue(b, row[i])
	}
	return string(b)
}

// appendValue appends one value, tagged with its type.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 'i'), uint64(x))
	case uint64:
		return binary.BigEndian.AppendUint64(append(b, 'u'), x)
	case string:
		return append(binary.AppendUvarint(append(b, 's'), uint64(len(x))), x...)
	case []byte:
		return append(binary.AppendUvarint(append(b, 'b'), uint64(len(x))), x...)
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(x))
	case float32:
		return binary.BigEndian.AppendUint32(append(b, 'e'), math.Float32bits(x))
	case *big.Int:
		s := x.String()
		return append(binary.AppendUvarint(append(b, 'D'), uint64(len(s))), s...)
	}
	s := fmt.Sprintf("%T:%v", v, v)
	return append(binary.AppendUvarint(append(b, '?'), uint64(len(s))), s...)
}
