package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/jackc/pgx/v5"
)

// Expectations computed by the server: expectSQL renders, for an expression
// x of a column, the text that render must produce from the decoded value.

// SQL computing the expected micros and days of date/time values.
const (
	// timeSQL is the exact microseconds since midnight of a time.
	timeSQL = "(extract(epoch from %s) * 1000000)::numeric(1000,0)::text"
	// microsSQL is the exact microseconds since the epoch of a timestamp (a
	// wall clock read as UTC) or a timestamptz (in the session's UTC), from
	// its date and its time of day: extract(epoch) of the timestamp itself
	// is inexact near the end of the range.
	microsSQL = "((%[1]s::date - date '1970-01-01')::numeric * 86400000000 + " +
		"extract(epoch from %[1]s::time) * 1000000)::numeric(1000,0)::text"
	// daysSQL is the days since 1970-01-01 of a date.
	daysSQL = "(%s - date '1970-01-01')::text"
)

// expectSQL returns SQL computing the expected rendering of x's value.
func expectSQL(c *cdc.Column, x string) string {
	bit := strings.HasPrefix(c.Type, "bit")
	switch c.Kind {
	case cdc.KindDecimal:
		return fmt.Sprintf("CASE WHEN %[1]s::numeric = 'NaN' THEN NULL "+
			"ELSE (%[1]s::numeric * 10::numeric ^ %[2]d)::numeric(1000,0)::text END", x, c.Scale)
	case cdc.KindFloat32, cdc.KindFloat64:
		send := map[bool]string{true: "float4send", false: "float8send"}[c.Kind == cdc.KindFloat32]
		return fmt.Sprintf("encode(%s(%s), 'hex')", send, x) // NaN too: the decoder keeps its bits
	case cdc.KindBool:
		if bit {
			return fmt.Sprintf("CASE %s::int4 WHEN 1 THEN 'true' WHEN 0 THEN 'false' END", x)
		}
		return fmt.Sprintf("CASE WHEN %[1]s THEN 'true' WHEN NOT %[1]s THEN 'false' END", x)
	case cdc.KindBytes:
		if bit {
			return fmt.Sprintf("lpad(to_hex(%[1]s::int8), (length(%[1]s) + 7) / 8 * 2, '0')", x)
		}
		return fmt.Sprintf("encode(%s, 'hex')", x)
	case cdc.KindDate:
		return infinitySQL(c, x, daysSQL, "date '9999-12-31'", "date '0001-01-01'")
	case cdc.KindTimeMicros:
		return fmt.Sprintf(timeSQL, x)
	case cdc.KindLocalTimestampMicros, cdc.KindTimestampMicros:
		return infinitySQL(c, x, microsSQL, "timestamp '9999-12-31 23:59:59.999999'", "timestamp '0001-01-01'")
	case cdc.KindArray:
		// Two set-returning functions in a select list run in lockstep;
		// unnest in FROM would split composite elements into columns.
		return fmt.Sprintf("(SELECT array_to_json(array_agg((%s) ORDER BY u.n)) "+
			"FROM (SELECT unnest(%[2]s) AS v, generate_series(1, cardinality(%[2]s)) AS n) u)",
			expectSQL(c.Elem, "u.v"), x)
	}
	// Integers and text: the output function's text (concat uses it, where
	// a cast to text would trim char(n)'s padding). num_nonnulls tests the
	// value itself, where IS NOT NULL tests a composite's fields.
	return fmt.Sprintf("CASE WHEN num_nonnulls(%[1]s) = 1 THEN concat(%[1]s) END", x)
}

// infinitySQL applies conv to finite values and maps infinities to null
// (nullable columns) or to conv of the fallback literals.
func infinitySQL(c *cdc.Column, x, conv, maxLit, minLit string) string {
	finite := fmt.Sprintf(conv, x)
	if c.Optional {
		return fmt.Sprintf("CASE WHEN isfinite(%s) THEN %s END", x, finite)
	}
	return fmt.Sprintf("CASE WHEN %[1]s = 'infinity' THEN %[2]s WHEN %[1]s = '-infinity' THEN %[3]s ELSE %[4]s END",
		x, fmt.Sprintf(conv, maxLit), fmt.Sprintf(conv, minLit), finite)
}

// dimsSQL returns the array's dimension lengths, comma-separated.
const dimsSQL = "array_to_string(ARRAY(SELECT array_length(v, d) FROM generate_series(1, array_ndims(v)) d), ',')"

// render turns a decoded value into the text expectSQL computes; null
// reports nil.
func render(v any) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case int64:
		return strconv.FormatInt(x, 10), false
	case *big.Int:
		return x.String(), false
	case float32:
		return fmt.Sprintf("%08x", math.Float32bits(x)), false
	case float64:
		return fmt.Sprintf("%016x", math.Float64bits(x)), false
	case bool:
		return strconv.FormatBool(x), false
	case []byte:
		return hex.EncodeToString(x), false
	case string:
		return x, false
	}
	return fmt.Sprintf("unexpected %T", v), false
}

// checkTypeValues decodes every non-null value of table c_<name>, as the
// server's text output (what pgoutput sends), and compares the result with
// the server's own computation.
func checkTypeValues(t *testing.T, ctx context.Context, conn *pgx.Conn, tc typeCase, col *cdc.Column, dec textDecoder) {
	t.Helper()
	dims := "''"
	if col.Kind == cdc.KindArray {
		dims = dimsSQL
	}
	q := fmt.Sprintf("SELECT v, %s, %s FROM c_%s ORDER BY id", expectSQL(col, "v"), dims, tc.name)
	rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		raw := rows.RawValues()
		if raw[0] == nil {
			continue
		}
		n++
		got, err := dec(raw[0])
		if msg := compareValue(col, got, err, raw[1], string(raw[2])); msg != "" {
			t.Errorf("%q: %s", raw[0], msg)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no values checked")
	}
}

// compareValue returns what is wrong with a decoded value, or "".
func compareValue(col *cdc.Column, got any, err error, want []byte, dims string) string {
	if col.Kind == cdc.KindArray {
		if strings.Contains(dims, ",") {
			return multiDimError(err, dims)
		}
		if err != nil {
			return err.Error()
		}
		return compareArray(col, got, want, dims)
	}
	if err != nil {
		var re *rangeError
		if errors.As(err, &re) && beyondInt64(want) {
			return "" // a valid timestamp that int64 micros cannot hold
		}
		return err.Error()
	}
	return compareScalar(got, want)
}

// multiDimError checks the error about a value with the server's
// dimension lengths dims: one that stops the stream and counts them.
func multiDimError(err error, dims string) string {
	var de *dimsError
	if !errors.As(err, &de) || !cdc.Permanent(err) {
		return fmt.Sprintf("a %s array decoded with error %v, want a permanent dimsError", dims, err)
	}
	if n := strings.Count(dims, ",") + 1; de.dims != n {
		return fmt.Sprintf("a %s array reported as %d-dimensional", dims, de.dims)
	}
	return ""
}

// beyondInt64 reports whether want is an integer outside int64.
func beyondInt64(want []byte) bool {
	_, err := strconv.ParseInt(string(want), 10, 64)
	return errors.Is(err, strconv.ErrRange)
}

// compareScalar compares a decoded value with its expected rendering (nil:
// null).
func compareScalar(got any, want []byte) string {
	s, null := render(got)
	switch {
	case null && want == nil:
		return ""
	case null:
		return fmt.Sprintf("got null, want %q", want)
	case want == nil:
		return fmt.Sprintf("got %q, want null", s)
	case s != string(want):
		return fmt.Sprintf("got %q (%T), want %q", s, got, want)
	}
	return ""
}

// compareArray compares a decoded one-dimensional array with the JSON
// array of its expected element renderings and the server's length.
func compareArray(col *cdc.Column, got any, want []byte, dims string) string {
	arr, ok := got.([]any)
	if !ok {
		return fmt.Sprintf("got %T, want []any", got)
	}
	gotDims, flat := arrayShape(arr)
	if gotDims != dims {
		return fmt.Sprintf("dimensions %q, want %q", gotDims, dims)
	}
	var elems []*string
	if want != nil {
		if err := json.Unmarshal(want, &elems); err != nil {
			return err.Error()
		}
	}
	if len(flat) != len(elems) {
		return fmt.Sprintf("%d elements, want %d", len(flat), len(elems))
	}
	for i, e := range flat {
		var w []byte
		if elems[i] != nil {
			w = []byte(*elems[i])
		}
		if msg := compareScalar(e, w); msg != "" {
			return fmt.Sprintf("element %d: %s", i, msg)
		}
	}
	return ""
}

// arrayShape returns the length of a one-dimensional array as dimsSQL
// does ("" when empty) and its elements.
func arrayShape(arr []any) (dims string, flat []any) {
	if len(arr) == 0 {
		return "", nil
	}
	return strconv.Itoa(len(arr)), arr
}
