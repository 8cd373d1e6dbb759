package incremental

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Cursor is how far the incremental snapshot of one table got. It travels
// in the checkpoint, so that after a crash the snapshot resumes after the
// last chunk Kafka acknowledged instead of at the table's first row.
type Cursor struct {
	Table cdc.TableID `json:"table"`
	// Last is the key of the last row of the last chunk emitted, as the
	// source binds it in its next chunk query; nil before the first chunk.
	Last []Value `json:"last,omitempty"`
	// Rows is how many rows the chunks emitted so far; Chunks how many
	// chunks were read.
	Rows   int64 `json:"rows"`
	Chunks int64 `json:"chunks"`
	// Estimate is the table's row count as the server estimated it when
	// the first chunk was read (0: unknown).
	Estimate int64 `json:"estimate,omitempty"`
}

// Value is one key value in a form that survives JSON with its Go type (a
// JSON number would turn int64 keys above 2^53 into other keys).
type Value struct {
	Type string `json:"t"` // i int64, u uint64, s string, b []byte, t bool, d float64, e float32, D *big.Int, n nil
	Text string `json:"v,omitempty"`
}

// EncodeValues turns key values into Values.
func EncodeValues(vals []any) ([]Value, error) {
	out := make([]Value, len(vals))
	for i, x := range vals {
		v, err := encodeValue(x)
		if err != nil {
			return nil, fmt.Errorf("key value %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

func encodeValue(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Value{Type: "n"}, nil
	case int64:
		return Value{Type: "i", Text: strconv.FormatInt(x, 10)}, nil
	case uint64:
		return Value{Type: "u", Text: strconv.FormatUint(x, 10)}, nil
	case string:
		return Value{Type: "s", Text: x}, nil
	case []byte:
		return Value{Type: "b", Text: base64.StdEncoding.EncodeToString(x)}, nil
	case bool:
		return Value{Type: "t", Text: strconv.FormatBool(x)}, nil
	case float64:
		return Value{Type: "d", Text: strconv.FormatUint(math.Float64bits(x), 16)}, nil
	case float32:
		return Value{Type: "e", Text: strconv.FormatUint(uint64(math.Float32bits(x)), 16)}, nil
	case *big.Int:
		return Value{Type: "D", Text: x.String()}, nil
	}
	return Value{}, fmt.Errorf("a key value of type %T cannot be saved in a snapshot cursor", v)
}

// DecodeValues turns Values back into the key values EncodeValues was
// given.
func DecodeValues(vals []Value) ([]any, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		x, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("snapshot cursor key %d: %w", i, err)
		}
		out[i] = x
	}
	return out, nil
}

func decodeValue(v Value) (any, error) {
	switch v.Type {
	case "n":
		return nil, nil
	case "i":
		return strconv.ParseInt(v.Text, 10, 64)
	case "u":
		return strconv.ParseUint(v.Text, 10, 64)
	case "s":
		return v.Text, nil
	case "b":
		return base64.StdEncoding.DecodeString(v.Text)
	case "t":
		return strconv.ParseBool(v.Text)
	case "d":
		bits, err := strconv.ParseUint(v.Text, 16, 64)
		return math.Float64frombits(bits), err
	case "e":
		bits, err := strconv.ParseUint(v.Text, 16, 32)
		return math.Float32frombits(uint32(bits)), err
	case "D":
		n, ok := new(big.Int).SetString(v.Text, 10)
		if !ok {
			return nil, fmt.Errorf("decimal %q", v.Text)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unknown value type %q", v.Type)
}
