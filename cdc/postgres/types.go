package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/jackc/pgx/v5"
)

// sessionSetup fixes the session settings that the text output format of
// values depends on; decoders rely on them, so it must run on every
// connection whose text output fluxo decodes, including the replication
// connection (pgoutput formats values with the walsender's settings):
//
//   - TimeZone UTC and DateStyle ISO, YMD: "2024-01-02 03:04:05.123456+00";
//   - IntervalStyle iso_8601: intervals are kept as ISO 8601 durations
//     such as "P1Y2M3DT4H5M6.5S" (Debezium's interval.handling.mode=string);
//   - bytea_output hex: "\x0102";
//   - lc_monetary C: money as "$1,234.56" / "-$1,234.56" with 2 decimals;
//   - extra_float_digits 3: floats round-trip (the default from PostgreSQL
//     12 on, but not before).
const sessionSetup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; " +
	"SET IntervalStyle = 'iso_8601'; SET bytea_output = 'hex'; " +
	"SET lc_monetary = 'C'; SET extra_float_digits = 3"

// catalog implements columnTypes by querying pg_type through a connection,
// lazily, caching type rows per OID and type names per (OID, typmod). It
// holds no server-side state (no prepared statements), so the connection
// may be used for other work between calls; calls must not be concurrent.
// The decoders it returns may be used concurrently.
type catalog struct {
	conn   *pgx.Conn
	log    *slog.Logger
	types  map[uint32]*pgType
	names  map[typeKey]string
	warned map[uint32]bool // types already warned about as unknown
}

// typeKey identifies a type with its modifier.
type typeKey struct {
	oid    uint32
	typmod int32
}

// pgType is what the catalog knows about one pg_type row.
type pgType struct {
	oid        uint32
	name       string // typname
	schema     string // nspname
	typtype    byte   // b base, d domain, e enum, r range, m multirange, c composite, p pseudo
	elem       uint32 // element type of a true array, else 0
	delim      byte   // element delimiter of an array
	baseType   uint32 // base type of a domain
	baseTypmod int32  // typmod a domain applies to its base type
}

// newCatalog returns a catalog reading types through conn; log receives the
// warnings about types kept as text and values that need a fallback (nil
// discards them).
func newCatalog(conn *pgx.Conn, log *slog.Logger) *catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &catalog{
		conn: conn, log: log, types: map[uint32]*pgType{},
		names: map[typeKey]string{}, warned: map[uint32]bool{},
	}
}

// invalidate forgets what the catalog knows about type oid, for example
// after pgoutput reported a type change (renamed types keep their OID).
func (c *catalog) invalidate(oid uint32) {
	delete(c.types, oid)
	for k := range c.names {
		if k.oid == oid {
			delete(c.names, k)
		}
	}
}

// typeQuery reads one type row and its name with modifier; %d are the OID
// and the typmod. A true array is one that its element type names as its
// array type (int2vector and oidvector have an element but are not).
const typeQuery = `SELECT format_type(t.oid, %d), t.typname::text, n.nspname::text,
 t.typtype::text, CASE WHEN e.typarray = t.oid THEN t.typelem ELSE 0 END::int8,
 coalesce(e.typdelim, ',')::text, t.typbasetype::int8, t.typtypmod
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
WHERE t.oid = %d`

// lookup returns the type oid and its name with typmod, querying the
// server when either is not cached.
func (c *catalog) lookup(ctx context.Context, oid uint32, typmod int32) (*pgType, string, error) {
	key := typeKey{oid, typmod}
	t, name := c.types[oid], c.names[key]
	if t != nil && name != "" {
		return t, name, nil
	}
	t = &pgType{oid: oid}
	var typtype, delim string
	var elem, base int64
	// The simple protocol leaves no prepared statement behind and works on
	// replication connections too; the arguments are numbers.
	err := c.conn.QueryRow(ctx, fmt.Sprintf(typeQuery, typmod, oid), pgx.QueryExecModeSimpleProtocol).
		Scan(&name, &t.name, &t.schema, &typtype, &elem, &delim, &base, &t.baseTypmod)
	if err == pgx.ErrNoRows {
		return nil, "", fmt.Errorf("postgres: type OID %d not found", oid)
	}
	if err != nil {
		return nil, "", fmt.Errorf("postgres: read type OID %d: %w", oid, err)
	}
	t.typtype, t.elem, t.delim, t.baseType = firstByte(typtype), uint32(elem), firstByte(delim), uint32(base)
	c.types[oid], c.names[key] = t, name
	return t, name, nil
}

// firstByte returns the first byte of s, or 0.
func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// column implements columnTypes.
func (c *catalog) column(ctx context.Context, name string, oid uint32, typmod int32, optional bool) (cdc.Column, textDecoder, error) {
	_, typeName, err := c.lookup(ctx, oid, typmod)
	if err != nil {
		return cdc.Column{}, nil, fmt.Errorf("column %q: %w", name, err)
	}
	col := cdc.Column{Name: name, Type: typeName, Optional: optional}
	f := &fallback{log: c.log, column: name, typ: typeName, optional: optional}
	dec, err := c.resolve(ctx, &col, oid, typmod, f, 0)
	if err != nil {
		return cdc.Column{}, nil, fmt.Errorf("column %q: %w", name, err)
	}
	return col, dec, nil
}

// maxTypeDepth bounds the chain of domains and arrays resolve follows.
const maxTypeDepth = 32

// resolve fills in col's kind and returns its decoder for type oid with
// typmod: domains resolve to their base type (col.Type keeps the domain's
// name), arrays to KindArray with an Elem.
func (c *catalog) resolve(ctx context.Context, col *cdc.Column, oid uint32, typmod int32, f *fallback, depth int) (textDecoder, error) {
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("postgres: type OID %d nests too deeply", oid)
	}
	t, _, err := c.lookup(ctx, oid, typmod)
	if err != nil {
		return nil, err
	}
	switch {
	case t.typtype == 'd':
		if t.baseTypmod != -1 {
			typmod = t.baseTypmod
		}
		return c.resolve(ctx, col, t.baseType, typmod, f, depth+1)
	case t.elem != 0:
		return c.array(ctx, col, t, typmod, f, depth)
	case t.typtype == 'e':
		col.Kind, col.SemanticName = cdc.KindString, "io.debezium.data.Enum"
		return decodeText, nil
	case t.typtype == 'r', t.typtype == 'm', t.typtype == 'c':
		col.Kind = cdc.KindString // ranges, multiranges and composites keep their text
		return decodeText, nil
	}
	if dec := builtinColumn(col, t, typmod, f); dec != nil {
		return dec, nil
	}
	c.warnUnknown(t)
	col.Kind = cdc.KindString
	return decodeText, nil
}

// array fills in an array column: Elem describes the (nullable) elements,
// with the array's typmod, which applies to them. Its values must have one
// dimension (see arrayDecoder).
func (c *catalog) array(ctx context.Context, col *cdc.Column, t *pgType, typmod int32, f *fallback, depth int) (textDecoder, error) {
	_, elemName, err := c.lookup(ctx, t.elem, typmod)
	if err != nil {
		return nil, err
	}
	elem := &cdc.Column{Type: elemName, Optional: true}
	ef := &fallback{log: f.log, column: f.column, typ: elemName, optional: true}
	dec, err := c.resolve(ctx, elem, t.elem, typmod, ef, depth+1)
	if err != nil {
		return nil, err
	}
	col.Kind, col.Elem = cdc.KindArray, elem
	return arrayDecoder(dec, t.delim, f.column, f.typ), nil
}

// baseType returns the type a column of type oid with typmod stores: the
// base type of a domain (as resolve follows them).
func (c *catalog) baseType(ctx context.Context, oid uint32, typmod int32) (*pgType, error) {
	for range maxTypeDepth {
		t, _, err := c.lookup(ctx, oid, typmod)
		if err != nil {
			return nil, err
		}
		if t.typtype != 'd' {
			return t, nil
		}
		if t.baseTypmod != -1 {
			typmod = t.baseTypmod
		}
		oid = t.baseType
	}
	return nil, fmt.Errorf("postgres: type OID %d nests too deeply", oid)
}

// warnUnknown logs, once per type, that a type fluxo has no mapping for is
// kept as text.
func (c *catalog) warnUnknown(t *pgType) {
	if c.warned[t.oid] {
		return
	}
	c.warned[t.oid] = true
	c.log.Warn("PostgreSQL type has no specific mapping; its values are kept as text",
		"type", t.schema+"."+t.name, "oid", strconv.FormatUint(uint64(t.oid), 10))
}
