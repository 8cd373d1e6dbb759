package cdc

import (
	"errors"
	"fmt"
)

// BadValue is a row value that a column's Kind cannot hold: the wrong Go
// type, or a value out of the type's range. Encoders return it for one
// value; ValueError turns it into the message naming the column.
type BadValue struct {
	Want string // the Go type wanted, when V has the wrong type
	Why  string // otherwise, what is wrong with V
	V    any
}

// Error implements error; callers normally use ValueError instead.
func (e *BadValue) Error() string { return e.describe("the column") }

// describe renders the problem for a column of the given type.
func (e *BadValue) describe(colType string) string {
	if e.Want != "" {
		return fmt.Sprintf("want %s for %s, got %T", e.Want, colType, e.V)
	}
	return fmt.Sprintf("%v %s for %s", e.V, e.Why, colType)
}

// ValueError wraps err, an encoding failure for a value of column c, with
// prefix (the column's path "table.column" or an element's position); a
// BadValue is rendered with the column's type.
func ValueError(prefix string, c *Column, err error) error {
	var bv *BadValue
	if errors.As(err, &bv) {
		return fmt.Errorf("%s: %s", prefix, bv.describe(c.TypeName()))
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// TypeName is the column type to name in messages: the source type, or the
// Kind when the source type is unknown.
func (c *Column) TypeName() string {
	if c.Type != "" {
		return c.Type
	}
	return c.Kind.String()
}

// AsInt64 accepts int64 and, leniently, int and int32: the Go value of the
// integer kinds.
func AsInt64(v any) (int64, bool) {
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
