package mysql

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// TestPositionTables: a position marshals to JSON (its tables appended
// from each table's cached encoding) and parses back to the same fields and
// schemas, with or without tables, and after a schema change.
func TestPositionTables(t *testing.T) {
	a := &savedTable{ID: cdc.TableID{Schema: "db", Name: "a"}, Descs: []colDesc{{Name: "id", Base: "int"}, {Name: "v", Base: "varchar", Charset: "latin1"}}, PK: []int{0}, Version: 1}
	b := &savedTable{ID: cdc.TableID{Schema: "db", Name: "b"}, Descs: []colDesc{{Name: "k", Base: "varchar", Nullable: true}}, Version: 3}
	empty := &schemaSet{tables: map[cdc.TableID]*savedTable{}}
	two := empty.with(b).with(a)
	changed := two.with(&savedTable{ID: a.ID, Descs: append(a.Descs[:2:2], colDesc{Name: "w", Base: "json"}), PK: []int{0}, Version: 2})
	for name, set := range map[string]*schemaSet{"no tables": empty, "two tables": two, "a changed": changed, "nil set": nil} {
		p := &Position{Flavor: "mariadb", ServerID: "server_id=1", GTIDSet: "0-1-7", File: "bin.000002", Offset: 4711,
			SnapshotDone: true, schemas: set, captured: []cdc.TableID{a.ID, b.ID}}
		for range 2 { // the second time from the cached encodings
			raw, err := p.MarshalBinary()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !json.Valid(raw) {
				t.Fatalf("%s: not JSON: %s", name, raw)
			}
			q, err := ParsePosition(raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if q.String() != p.String() || !reflect.DeepEqual(q.captured, p.captured) {
				t.Errorf("%s: parsed %s %v, want %s %v", name, q, q.captured, p, p.captured)
			}
			want := map[cdc.TableID]*savedTable{}
			if set != nil {
				want = set.tables
			}
			if len(q.schemas.tables) != len(want) {
				t.Fatalf("%s: %d tables back, want %d", name, len(q.schemas.tables), len(want))
			}
			for id, w := range want {
				g := q.schemas.tables[id]
				if g == nil || !reflect.DeepEqual(g.Descs, w.Descs) || !reflect.DeepEqual(g.PK, w.PK) || g.Version != w.Version {
					t.Errorf("%s: table %s back as %+v, want %+v", name, id, g, w)
				}
			}
		}
	}
}
