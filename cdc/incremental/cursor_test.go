package incremental

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestCursorRoundTrip: every key type survives the checkpoint's JSON with
// its Go type and value, so that the next chunk starts after the same key.
func TestCursorRoundTrip(t *testing.T) {
	keys := [][]any{
		{int64(math.MaxInt64)}, {int64(-9007199254740993)}, {uint64(math.MaxUint64)},
		{"text ção ☃"}, {[]byte{0, 0xff, '"'}}, {true}, {math.Pi}, {float32(-1.5)},
		{new(big.Int).Lsh(big.NewInt(1), 100)}, {nil},
		{int64(1), "composite", "0b1e7c1c-5a1e-4f5e-9b1a-3c2d1e0f9a8b"},
	}
	for _, key := range keys {
		tb := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}}
		enc, err := EncodeValues(key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(Cursor{Table: tb.ID, Last: enc, Rows: 3, Chunks: 1})
		if err != nil {
			t.Fatal(err)
		}
		var c Cursor
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeValues(c.Last)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, key) || c.Table != tb.ID {
			t.Errorf("%#v came back as %#v (JSON %s)", key, got, b)
		}
	}
}

func TestCursorErrors(t *testing.T) {
	if _, err := EncodeValues([]any{int64(1), struct{}{}}); err == nil || !strings.Contains(err.Error(), "key value 1") {
		t.Errorf("an unsupported key type: %v", err)
	}
	for _, v := range []Value{{Type: "i", Text: "x"}, {Type: "D", Text: "1.5"}, {Type: "?"}} {
		if _, err := DecodeValues([]Value{v}); err == nil {
			t.Errorf("%+v decoded without an error", v)
		}
	}
}
