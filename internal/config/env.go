package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandTree expands ${VAR}, ${VAR:-default} and $$ in every scalar value
// of the tree (mapping keys are left alone). An alias is expanded once,
// where its anchor is defined. Every error is reported with its line.
func expandTree(file string, n *yaml.Node, env func(string) (string, bool)) error {
	if n == nil {
		return nil
	}
	var errs []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode:
			if err := expandNode(n, env); err != nil {
				errs = append(errs, &Error{File: file, Line: n.Line, Msg: err.Error()})
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		}
	}
	walk(n)
	return errors.Join(errs...)
}

// expandNode expands n's value in place. A value that changed is marked as a
// string, so that "null" or "123" coming from the environment stays text.
func expandNode(n *yaml.Node, env func(string) (string, bool)) error {
	if !strings.Contains(n.Value, "$") {
		return nil
	}
	v, err := expand(n.Value, env)
	if err != nil {
		return err
	}
	if v != n.Value {
		n.Value = v
		n.Tag = "!!str"
	}
	return nil
}

// expand returns s with ${VAR} and ${VAR:-default} replaced from env and $$
// replaced by $. Any other '$' is kept as is. ${VAR:-default} uses default
// when VAR is unset or empty; ${VAR} with VAR unset is an error.
func expand(s string, env func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${ (close it with }, or write $$ for a literal $)")
			}
			v, err := lookup(s[i+2:i+2+end], env)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// lookup resolves the inside of ${...}: NAME or NAME:-default.
func lookup(expr string, env func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(expr, ":-")
	if !envNameRE.MatchString(name) {
		// The text is not echoed: it may be part of a literal secret.
		return "", errors.New("${...} must hold a variable name of letters, digits and _ (write $$ for a literal $)")
	}
	if strings.Contains(def, "${") {
		return "", fmt.Errorf("${%s:-...}: a default cannot contain another ${...}", name)
	}
	v, ok := env(name)
	switch {
	case ok && (v != "" || !hasDef):
		return v, nil
	case hasDef:
		return def, nil
	}
	return "", fmt.Errorf("environment variable %s is not set (export it, or write ${%s:-default})", name, name)
}
