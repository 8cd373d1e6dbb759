// Package mask hides personal data before it leaves a source (SPEC §2,
// source.mask_columns): a masked column's values are replaced, in the
// stream, the snapshots and the full load alike, by the HMAC-SHA-256 of
// their canonical text under a secret key (hex, so that joins across
// tables still match) or by null. A masked column becomes an optional
// string column. Key columns cannot be masked: Kafka keys, partitions and
// snapshot chunks need their values.
package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Action is what happens to a masked column's values.
type Action string

// The actions of source.mask_columns.
const (
	// Hash replaces a value by the hex HMAC-SHA-256 of its canonical text.
	Hash Action = "hash"
	// Redact replaces a value by null.
	Redact Action = "redact"
)

// Rules says which columns are masked and how.
type Rules interface {
	// MaskColumn returns the action for the column, or "" when it is sent
	// as it is.
	MaskColumn(schema, table, column string) Action
}

// ErrKeyColumn is the failure for a masked key column.
var ErrKeyColumn = errors.New("source.mask_columns names a key column")

// Masker applies rules to tables and rows. It is safe for concurrent use
// once built.
type Masker struct {
	rules Rules
	key   []byte
}

// New returns a Masker for rules, hashing with key (required when a rule
// hashes; fluxo reads it from FLUXO_MASK_KEY).
func New(rules Rules, key []byte) *Masker { return &Masker{rules: rules, key: key} }

// plan is what masking does to one table: per column, its action.
type plan struct {
	actions []Action   // per column; "" leaves it
	orig    *cdc.Table // the source's table: the values' kinds
	table   *cdc.Table // the masked table
}

// plan returns how t is masked (nil: not at all), and the masked table.
func (m *Masker) plan(t *cdc.Table) (*plan, error) {
	var p *plan
	for i, c := range t.Columns {
		a := m.rules.MaskColumn(t.ID.Schema, t.ID.Name, c.Name)
		if a == "" {
			continue
		}
		for _, k := range t.Key {
			if k == i {
				return nil, &cdc.PermanentError{
					Err: fmt.Errorf("%w: %s.%s is part of the key of %s, which Kafka keys, partitions and snapshot chunks need", ErrKeyColumn, t.ID, c.Name, t.ID),
					Fix: "remove it from source.mask_columns, or key the table on other columns with source.key_columns",
				}
			}
		}
		if p == nil {
			p = &plan{actions: make([]Action, len(t.Columns)), orig: t}
		}
		p.actions[i] = a
	}
	if p == nil {
		return nil, nil
	}
	masked := *t
	masked.Columns = make([]cdc.Column, len(t.Columns))
	for i, c := range t.Columns {
		if p.actions[i] != "" {
			c = cdc.Column{Name: c.Name, Kind: cdc.KindString, Type: fmt.Sprintf("%s masked (%s)", c.Type, p.actions[i]), Optional: true}
		}
		masked.Columns[i] = c
	}
	p.table = &masked
	return p, nil
}

// row returns row with the masked columns replaced (a new slice: the
// source may still hold row).
func (m *Masker) row(p *plan, h hash.Hash, row []any) []any {
	if row == nil {
		return nil
	}
	out := make([]any, len(row))
	copy(out, row)
	for i, a := range p.actions {
		switch {
		case a == "" || out[i] == nil:
		case a == Redact:
			out[i] = nil
		default:
			h.Reset()
			h.Write(Canonical(&p.orig.Columns[i], row[i]))
			out[i] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return out
}

// hasher returns a new HMAC-SHA-256 under the masker's key.
func (m *Masker) hasher() hash.Hash { return hmac.New(sha256.New, m.key) }
