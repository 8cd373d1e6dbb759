package testserver

import (
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// interpolate replaces each ? that is not inside a '...', "..." or `...`
// quote with the next arg formatted as a MariaDB literal. Comments are not
// recognised, so do not put ? in comments when passing args.
func interpolate(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	n := 0
	var quote rune
	escaped := false
	for _, r := range query {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && quote != '`' && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
		case r == '?':
			if n == len(args) {
				return "", fmt.Errorf("testserver: query has more placeholders than the %d args", len(args))
			}
			lit, err := sqlLiteral(args[n])
			if err != nil {
				return "", fmt.Errorf("testserver: arg %d: %w", n, err)
			}
			n++
			b.WriteString(lit)
			continue
		}
		b.WriteRune(r)
	}
	if n != len(args) {
		return "", fmt.Errorf("testserver: query has %d placeholders but %d args", n, len(args))
	}
	return b.String(), nil
}

// sqlLiteral formats v as a MariaDB literal (assuming the default sql_mode,
// in which backslash escapes work inside strings).
func sqlLiteral(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return quoteString(x), nil
	case []byte:
		if x == nil {
			return "NULL", nil
		}
		return "X'" + hex.EncodeToString(x) + "'", nil
	case bool:
		if x {
			return "TRUE", nil
		}
		return "FALSE", nil
	case time.Time:
		return quoteString(x.Format("2006-01-02 15:04:05.999999")), nil
	case float32:
		return floatLiteral(float64(x), 32)
	case float64:
		return floatLiteral(x, 64)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	}
	return "", fmt.Errorf("unsupported type %T", v)
}

func floatLiteral(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%v has no SQL literal", f)
	}
	return strconv.FormatFloat(f, 'g', -1, bits), nil
}

// quoteString returns s as a single-quoted string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
