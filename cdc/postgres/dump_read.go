package postgres

import (
	"context"
	"fmt"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// Read implements cdc.Dumper. It runs one SELECT on a worker connection with
// the extended protocol through the table's reader (tableReader), asking for
// the columns whose types have a binary decoder (see binary.go) in binary
// format and for the others in text format, and decodes each row in place
// from the protocol buffer into a reused row. (A binary COPY would need the same decoders and could not mix
// in the text output of the other types: a cast to text is not always the
// output function, e.g. for char(n) or inet.)
//
// The values themselves are fresh and immutable: fn may keep them without
// copying, though a kept scalar keeps the block of values it was boxed in
// (a few KiB, see boxarena) alive.
func (d *Dumper) Read(ctx context.Context, c cdc.Chunk, fn func(row []any) error) error {
	t, err := d.table(ctx, c.Table)
	if err != nil {
		return err
	}
	if t.gone {
		return fmt.Errorf("postgres: table %s was dropped or replaced since the snapshot: %w", c.Table, cdc.ErrTableGone)
	}
	q, err := t.query(c)
	if err != nil {
		return err
	}
	w, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer d.release(w)
	if err := d.ready(ctx, w); err != nil {
		return err
	}
	return t.read(ctx, w.conn.PgConn(), q, nil, d.textOnly, fn)
}
