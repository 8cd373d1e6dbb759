package postgres

import (
	"context"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// textDecoder turns a column value in PostgreSQL's text output format (as
// pgoutput sends it, and as a text-format query returns it) into the Go
// value the column's cdc.Kind prescribes.
type textDecoder func(text []byte) (any, error)

// columnTypes derives columns and their decoders from the server's type
// catalog.
type columnTypes interface {
	// column describes the relation column name of type oid with modifier
	// typmod (-1 when none) and returns its decoder. optional says whether
	// the column accepts NULL (values PostgreSQL has but Avro cannot hold,
	// such as infinity, become nil in optional columns).
	column(ctx context.Context, name string, oid uint32, typmod int32, optional bool) (cdc.Column, textDecoder, error)
	// invalidate forgets what is cached of type oid.
	invalidate(oid uint32)
}
