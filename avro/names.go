package avro

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// sanitizeName returns s as a valid Avro name ([A-Za-z_][A-Za-z0-9_]*):
// every other character (rune) becomes '_', a leading digit gets a '_'
// prefix, and the empty string becomes "_".
func sanitizeName(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for _, r := range s {
		if isNameChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isNameChar reports whether r may appear in an Avro name.
func isNameChar(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// sanitizeNamespace returns the topic as an Avro namespace: each
// dot-separated part is sanitised as a name. An empty topic gives the empty
// (null) namespace.
func sanitizeNamespace(topic string) string {
	if topic == "" {
		return ""
	}
	parts := strings.Split(topic, ".")
	for i, p := range parts {
		parts[i] = sanitizeName(p)
	}
	return strings.Join(parts, ".")
}

// fullName joins a namespace and a name.
func fullName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "." + name
}

// field is a record field generated from a column.
type field struct {
	name string // sanitised Avro name
	col  *cdc.Column
}

// columnFields returns the fields for the columns of t at the given indexes
// (all columns when idx is nil), failing when an index is out of range or
// when two column names sanitise to the same field name.
func columnFields(t *cdc.Table, idx []int) ([]field, error) {
	n := len(t.Columns)
	if idx != nil {
		n = len(idx)
	}
	fields := make([]field, 0, n)
	seen := make(map[string]string, n)
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		if i < 0 || i >= len(t.Columns) {
			return nil, fmt.Errorf("avro: table %s: key index %d out of range", t.ID, i)
		}
		c := &t.Columns[i]
		name := sanitizeName(c.Name)
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("avro: table %s: columns %q and %q both map to Avro field %q", t.ID, prev, c.Name, name)
		}
		seen[name] = c.Name
		fields = append(fields, field{name: name, col: c})
	}
	return fields, nil
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD so that the output is always valid JSON.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
