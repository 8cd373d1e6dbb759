package cdc

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// BadValue is a row value that a column's Kind cannot hold: the wrong Go
// type, or a value out of the type's range. Encoders return it for one
// value; ValueError turns it into the message naming the column.
type BadValue struct {
	Want string // the Go type wanted, when V has the wrong type
	Why  string // otherwise, what is wrong with V
	Fix  string // what to do about it, when the type does not say
	V    any
}

// Error implements error; callers normally use ValueError instead.
func (e *BadValue) Error() string { return e.describe("the column") }

// describe renders the problem for a column of the given type.
func (e *BadValue) describe(colType string) string {
	if e.Want != "" {
		return fmt.Sprintf("want %s for %s, got %T", e.Want, colType, e.V)
	}
	msg := fmt.Sprintf("%v %s for %s", e.V, e.Why, colType)
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	return msg
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

// notUTF8Fix says what to do about text that is not valid UTF-8.
const notUTF8Fix = "the source sent text in a character set fluxo did not convert to UTF-8, " +
	"which Avro and Parquet strings must be (MySQL: a character set fluxo cannot decode, fix: " +
	"ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4; PostgreSQL: a SQL_ASCII database holding " +
	"non-UTF-8 bytes, fix: correct the rows or exclude the column with source.exclude_columns)"

// CheckUTF8 returns nil when s is valid UTF-8, else a BadValue showing the
// first bytes of s and the fix.
func CheckUTF8(s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	return &BadValue{V: clipQuoted(s), Why: "is not valid UTF-8", Fix: notUTF8Fix}
}

// CheckUTF8Bytes is CheckUTF8 for text held in a byte slice.
func CheckUTF8Bytes(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	return &BadValue{V: clipQuoted(string(b)), Why: "is not valid UTF-8", Fix: notUTF8Fix}
}

// clipQuoted quotes s (invalid bytes as \x escapes), shortened to its first
// 32 bytes.
func clipQuoted(s string) string {
	if len(s) > 32 {
		return strconv.Quote(s[:32]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}
