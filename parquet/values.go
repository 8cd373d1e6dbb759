package parquet

import (
	"errors"
	"fmt"

	"github.com/fluxo-cdc/fluxo/cdc"
)

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

// badValue is a value leafValue or appendArray rejects; valueError turns it
// into the final message, naming the column and its type.
type badValue struct {
	want string // the Go type wanted, when v has the wrong type
	why  string // otherwise, what is wrong with v
	v    any
}

func (e *badValue) Error() string { return e.describe("the column") }

func (e *badValue) describe(colType string) string {
	if e.want != "" {
		return fmt.Sprintf("want %s for %s, got %T", e.want, colType, e.v)
	}
	return fmt.Sprintf("%v %s for %s", e.v, e.why, colType)
}

// valueError wraps err, a conversion failure for column c, with prefix
// (the column's path "table.column" or the element's position).
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
