package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a configuration file.
type Error struct {
	// File is the name given to Parse (usually the file path).
	File string
	// Line is the 1-based line of the offending key or value, or 0 when
	// the problem has no single line (a missing key).
	Line int
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats e as "file:line: message" (or "file: message" without a
// line).
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into an *Error with the line.
func yamlError(file string, err error) error {
	msg := err.Error()
	e := &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	switch {
	case strings.Contains(e.Msg, "alphabetic or numeric character"):
		e.Msg += ` (a value starting with * or & must be quoted, e.g. "*.orders")`
	case strings.Contains(e.Msg, "did not find expected ',' or"):
		e.Msg += ` (inside [...] or {...}, quote a value holding ${VAR}, e.g. ["${KAFKA_BROKER}"])`
	}
	return e
}

// decoder fills a Config from a yaml.Node tree, collecting every error.
type decoder struct {
	file string
	set  map[string]int // dotted key path -> line of every key seen
	errs []error
}

func (d *decoder) decode(root *yaml.Node, c *Config) error {
	if root != nil {
		d.mapping(root, reflect.ValueOf(c).Elem(), "")
	}
	return errors.Join(d.errs...)
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// mapping decodes the YAML mapping n into the struct v, whose dotted key
// path is path ("" for the top level).
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a section of keys (key: value), got %s", sectionName(path), describe(n))
		return
	}
	names, index := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		f, ok := index[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, "a key %s must be a plain word, got %s", where(path), describe(k))
		case !ok:
			d.errorf(k, "unknown key %q %s (allowed: %s)", k.Value, where(path), strings.Join(names, ", "))
		case seen[k.Value] > 0:
			d.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, where(path), seen[k.Value])
		default:
			seen[k.Value] = k.Line
			key := joinPath(path, k.Value)
			d.set[key] = k.Line
			d.value(val, v.Field(f), key)
		}
	}
}

// value decodes n into v according to v's kind; key is its dotted path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, key)
	case reflect.Pointer: // a present section is enabled, even when empty
		p := reflect.New(v.Type().Elem())
		d.mapping(n, p.Elem(), key)
		v.Set(p)
	case reflect.Slice:
		if list, ok := d.list(n, key); ok {
			v.Set(reflect.ValueOf(list))
		}
	case reflect.Map:
		if m, ok := d.mapOf(n, key, v.Type().Elem().Kind() == reflect.Slice); ok {
			v.Set(m)
		}
	default:
		if v.Type() == durationType {
			d.duration(n, v, key)
			return
		}
		if s, ok := d.scalar(n, key, want(v.Kind())); ok {
			d.setScalar(n, v, key, s)
		}
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

// duration decodes a Go duration such as 10s or 1m30s.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, key string) {
	s, ok := d.scalar(n, key, "a duration such as 10s")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.errorf(n, "%s: expected a positive duration such as 10s or 1m30s, got %q", key, s)
		return
	}
	v.SetInt(int64(dur))
}

// scalar returns n's text; ok is false for null (keep the default) or for a
// list or section where a single value was wanted (reported).
func (d *decoder) scalar(n *yaml.Node, key, wanted string) (string, bool) {
	n = deref(n)
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected %s, got %s", key, wanted, describe(n))
		return "", false
	}
	return n.Value, true
}

func want(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Uint32:
		return "a whole number from 1 to 4294967295"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	}
	return "a single value"
}

func (d *decoder) setScalar(n *yaml.Node, v reflect.Value, key, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return
	case reflect.Bool:
		if b, ok := parseBool(s); ok {
			v.SetBool(b)
			return
		}
	case reflect.Uint32:
		if u, err := strconv.ParseUint(s, 10, 32); err == nil {
			v.SetUint(u)
			return
		}
	case reflect.Int:
		if i, err := strconv.ParseInt(s, 10, 32); err == nil {
			v.SetInt(i)
			return
		}
	case reflect.Int64:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			v.SetInt(i)
			return
		}
	}
	d.errorf(n, "%s: expected %s, got %q", key, want(v.Kind()), s)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// list decodes a sequence of single values.
func (d *decoder) list(n *yaml.Node, key string) ([]string, bool) {
	n = deref(n)
	if isNull(n) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n, "%s: expected a list, got a single value; write [%s]", key, n.Value)
		} else {
			d.errorf(n, "%s: expected a list, got %s", key, describe(n))
		}
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		s, good := d.scalar(item, fmt.Sprintf("%s[%d]", key, i), "a single value")
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// mapOf decodes a mapping of names to lists (source.key_columns) or, when
// lists is false, to single values (source.mask_columns).
func (d *decoder) mapOf(n *yaml.Node, key string, lists bool) (reflect.Value, bool) {
	n = deref(n)
	if isNull(n) {
		return reflect.Value{}, false
	}
	example := "{shop.events: [event_id]}"
	if !lists {
		example = "{shop.customers.cpf: hash}"
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping like %s, got %s", key, example, describe(n))
		return reflect.Value{}, false
	}
	lm, sm := map[string][]string{}, map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: a key must be a name, got %s", key, describe(k))
			ok = false
			continue
		}
		_, dupL := lm[k.Value]
		_, dupS := sm[k.Value]
		if dupL || dupS {
			d.errorf(k, "%s: duplicate key %q", key, k.Value)
			ok = false
			continue
		}
		item := fmt.Sprintf("%s[%s]", key, k.Value)
		if lists {
			list, good := d.list(n.Content[i+1], item)
			ok = ok && good
			lm[k.Value] = list
		} else {
			s, good := d.scalar(n.Content[i+1], item, "a single value")
			ok = ok && good
			sm[k.Value] = s
		}
	}
	if lists {
		return reflect.ValueOf(lm), ok
	}
	return reflect.ValueOf(sm), ok
}

// yamlFields returns the yaml key names of struct t in field order and a
// map from name to field index. Unexported and untagged fields are skipped.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section (key: value)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sectionName(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func where(path string) string {
	if path == "" {
		return "at top level"
	}
	return "in " + path
}
