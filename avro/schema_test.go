package avro

import (
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/fluxo-cdc/fluxo/cdc"
)

// allKindsTable has one column of every kind (and a few variants).
func allKindsTable() *cdc.Table {
	t := &cdc.Table{ID: cdc.TableID{Schema: "shop", Name: "all"}}
	for _, kc := range kindCases() {
		c := kc.col
		c.Name = kc.name
		c.Optional = true
		t.Columns = append(t.Columns, c)
	}
	t.Key = []int{0, 1, 3}
	return t
}

// TestSchemasParse checks that hamba accepts the generated schemas of both
// connectors and that they have the documented shape.
func TestSchemasParse(t *testing.T) {
	tbl := allKindsTable()
	for _, c := range []cdc.Connector{cdc.ConnectorMySQL, cdc.ConnectorPostgres} {
		t.Run(string(c), func(t *testing.T) {
			vs, err := ValueSchema(tbl, "fx.shop.all", c)
			if err != nil {
				t.Fatal(err)
			}
			env := parse(t, vs).(*hamba.RecordSchema)
			if env.FullName() != "fx.shop.all.Envelope" || env.Prop("connect.name") != "fx.shop.all.Envelope" {
				t.Errorf("envelope name %q, connect.name %v", env.FullName(), env.Prop("connect.name"))
			}
			var names []string
			for _, f := range env.Fields() {
				names = append(names, f.Name())
			}
			if got := strings.Join(names, ","); got != "before,after,source,op,ts_ms,transaction" {
				t.Errorf("envelope fields %s", got)
			}
			src := env.Fields()[2].Type().(*hamba.RecordSchema)
			if want := "io.debezium.connector." + string(c) + ".Source"; src.FullName() != want {
				t.Errorf("source %s, want %s", src.FullName(), want)
			}
			checkValueFields(t, tbl, env.Fields()[0].Type().(*hamba.UnionSchema).Types()[1].(*hamba.RecordSchema))
		})
	}
	ks, ok, err := KeySchema(tbl, "fx.shop.all")
	if err != nil || !ok {
		t.Fatalf("KeySchema: %v %v", ok, err)
	}
	key := parse(t, ks).(*hamba.RecordSchema)
	if len(key.Fields()) != 3 || key.FullName() != "fx.shop.all.Key" {
		t.Fatalf("key schema %s", ks)
	}
	for _, f := range key.Fields() {
		if f.Type().Type() == hamba.Union || f.HasDefault() {
			t.Errorf("key field %s is nullable or has a default", f.Name())
		}
	}
}

// checkValueFields checks that each Value field is ["null", T] with default
// null, and that T carries the column's properties.
func checkValueFields(t *testing.T, tbl *cdc.Table, value *hamba.RecordSchema) {
	t.Helper()
	if len(value.Fields()) != len(tbl.Columns) {
		t.Fatalf("%d fields for %d columns", len(value.Fields()), len(tbl.Columns))
	}
	for i, f := range value.Fields() {
		col := &tbl.Columns[i]
		u, ok := f.Type().(*hamba.UnionSchema)
		if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != hamba.Null || !f.HasDefault() || f.Default() != nil {
			t.Errorf("field %s: not [null, T] default null", f.Name())
			continue
		}
		inner := u.Types()[1].(hamba.PropertySchema)
		if inner.Prop("fluxo.type") != col.Type {
			t.Errorf("field %s: fluxo.type %v, want %q", f.Name(), inner.Prop("fluxo.type"), col.Type)
		}
		if col.SemanticName != "" && inner.Prop("connect.name") != col.SemanticName {
			t.Errorf("field %s: connect.name %v", f.Name(), inner.Prop("connect.name"))
		}
	}
}

// TestSchemaGolden pins the exact JSON of a small table's schemas.
func TestSchemaGolden(t *testing.T) {
	tbl := &cdc.Table{
		ID: cdc.TableID{Schema: "public", Name: "orders"},
		Columns: []cdc.Column{
			{Name: "id", Kind: cdc.KindInt64, Type: "bigint"},
			{Name: "total", Kind: cdc.KindDecimal, Type: "numeric(10,2)", Precision: 10, Scale: 2},
			{Name: "order-tags", Kind: cdc.KindArray, Type: "text[]", Elem: &cdc.Column{Kind: cdc.KindString, Type: "text"}},
		},
		Key: []int{0},
	}
	ks, _, err := KeySchema(tbl, "pg.public.orders")
	if err != nil {
		t.Fatal(err)
	}
	wantKey := `{"type":"record","name":"Key","namespace":"pg.public.orders","fields":[` +
		`{"name":"id","type":{"type":"long","fluxo.type":"bigint"}}],"connect.name":"pg.public.orders.Key"}`
	if ks != wantKey {
		t.Errorf("key schema\n got %s\nwant %s", ks, wantKey)
	}
	vs, err := ValueSchema(tbl, "pg.public.orders", cdc.ConnectorPostgres)
	if err != nil {
		t.Fatal(err)
	}
	wantValue := `{"type":"record","name":"Envelope","namespace":"pg.public.orders","fields":[` +
		`{"name":"before","type":["null",{"type":"record","name":"Value","namespace":"pg.public.orders","fields":[` +
		`{"name":"id","type":["null",{"type":"long","fluxo.type":"bigint"}],"default":null},` +
		`{"name":"total","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2,"fluxo.type":"numeric(10,2)"}],"default":null},` +
		`{"name":"order_tags","type":["null",{"type":"array","items":["null",{"type":"string","fluxo.type":"text"}],"fluxo.type":"text[]"}],"default":null,"fluxo.column":"order-tags"}` +
		`],"connect.name":"pg.public.orders.Value"}],"default":null},` +
		`{"name":"after","type":["null","Value"],"default":null},` +
		`{"name":"source","type":` + postgresSourceSchema + `},` +
		`{"name":"op","type":"string"},{"name":"ts_ms","type":"long"},` +
		`{"name":"transaction","type":["null",` + blockSchema + `],"default":null}],` +
		`"connect.version":1,"connect.name":"pg.public.orders.Envelope"}`
	if vs != wantValue {
		t.Errorf("value schema\n got %s\nwant %s", vs, wantValue)
	}
}

// TestSchemaStable checks that the same table gives the same text, also
// from an equal copy.
func TestSchemaStable(t *testing.T) {
	a, b := allKindsTable(), allKindsTable()
	for _, c := range []cdc.Connector{cdc.ConnectorMySQL, cdc.ConnectorPostgres} {
		va, errA := ValueSchema(a, "x.y.z", c)
		vb, errB := ValueSchema(b, "x.y.z", c)
		va2, _ := ValueSchema(a, "x.y.z", c)
		if errA != nil || errB != nil || va != vb || va != va2 {
			t.Errorf("%s: value schema not stable (%v, %v)", c, errA, errB)
		}
	}
	ka, _, _ := KeySchema(a, "x.y.z")
	kb, _, _ := KeySchema(b, "x.y.z")
	if ka != kb || ka == "" {
		t.Errorf("key schema not stable")
	}
}

// TestKeylessTable checks the null-key case.
func TestKeylessTable(t *testing.T) {
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "log"}, Columns: []cdc.Column{{Name: "msg", Kind: cdc.KindString}}}
	if s, ok, err := KeySchema(tbl, "p.s.log"); s != "" || ok || err != nil {
		t.Errorf("KeySchema = %q, %v, %v; want \"\", false, nil", s, ok, err)
	}
}

// TestSanitizeName covers the name rules.
func TestSanitizeName(t *testing.T) {
	cases := map[string]string{
		"id": "id", "Order_ID9": "Order_ID9", "order-id": "order_id", "1st": "_1st",
		"a b.c": "a_b_c", "naïve": "na_ve", "😀": "_", "": "_", "_x": "_x", "9": "_9",
		"\xff\xfe": "__",
	}
	for in, want := range cases {
		t.Run(want, func(t *testing.T) {
			if got := sanitizeName(in); got != want {
				t.Errorf("sanitizeName(%q) = %q, want %q", in, got, want)
			}
		})
	}
	ns := map[string]string{
		"fx.shop.orders": "fx.shop.orders", "my-prefix.2024db.order items": "my_prefix._2024db.order_items",
		"a..b": "a._.b", "": "",
	}
	for in, want := range ns {
		if got := sanitizeNamespace(in); got != want {
			t.Errorf("sanitizeNamespace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSanitizedSchema checks that odd column and topic names give schemas
// hamba accepts, with the original names kept in "fluxo.column".
func TestSanitizedSchema(t *testing.T) {
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "my-db", Name: "order items"}, Columns: []cdc.Column{
		{Name: "order-id", Kind: cdc.KindInt64},
		{Name: "1st", Kind: cdc.KindString},
		{Name: "naïve \"quoted\"", Kind: cdc.KindString},
		{Name: "plain", Kind: cdc.KindBool},
	}, Key: []int{0, 1}}
	topic := "my-prefix.my-db.order items"
	vs, err := ValueSchema(tbl, topic, cdc.ConnectorMySQL)
	if err != nil {
		t.Fatal(err)
	}
	env := parse(t, vs).(*hamba.RecordSchema)
	if env.Namespace() != "my_prefix.my_db.order_items" {
		t.Errorf("namespace %q", env.Namespace())
	}
	value := env.Fields()[0].Type().(*hamba.UnionSchema).Types()[1].(*hamba.RecordSchema)
	want := []string{"order_id", "_1st", "na_ve__quoted_", "plain"}
	for i, f := range value.Fields() {
		orig, _ := f.Prop("fluxo.column").(string)
		if f.Name() != want[i] {
			t.Errorf("field %d: %q, want %q", i, f.Name(), want[i])
		}
		if changed := tbl.Columns[i].Name != want[i]; changed && orig != tbl.Columns[i].Name || !changed && orig != "" {
			t.Errorf("field %s: fluxo.column %q", f.Name(), orig)
		}
	}
	ks, _, err := KeySchema(tbl, topic)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, ks)
}

// TestSanitizeCollision checks that colliding field names are rejected by
// every constructor.
func TestSanitizeCollision(t *testing.T) {
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{
		{Name: "a-b", Kind: cdc.KindInt64}, {Name: "a_b", Kind: cdc.KindInt64},
	}, Key: []int{0, 1}}
	if _, err := ValueSchema(tbl, "p.s.t", cdc.ConnectorMySQL); err == nil || !strings.Contains(err.Error(), `"a_b"`) {
		t.Errorf("ValueSchema: %v", err)
	}
	if _, _, err := KeySchema(tbl, "p.s.t"); err == nil {
		t.Error("KeySchema accepted colliding key columns")
	}
	if _, err := NewEncoder(tbl, cdc.ConnectorMySQL); err == nil {
		t.Error("NewEncoder accepted colliding columns")
	}
}

// TestSchemaOddText checks JSON escaping of properties and the empty
// (null) namespace.
func TestSchemaOddText(t *testing.T) {
	tbl := &cdc.Table{ID: cdc.TableID{Schema: "s", Name: "t"}, Columns: []cdc.Column{
		{Name: "e", Kind: cdc.KindString, Type: "enum('a\tb','\"c\"','\\\\','\x01')"},
	}, Key: []int{0}}
	ks, _, err := KeySchema(tbl, "")
	if err != nil {
		t.Fatal(err)
	}
	key := parse(t, ks).(*hamba.RecordSchema)
	if key.FullName() != "Key" || key.Prop("connect.name") != "Key" {
		t.Errorf("key %s", ks)
	}
	if got := key.Fields()[0].Type().(hamba.PropertySchema).Prop("fluxo.type"); got != tbl.Columns[0].Type {
		t.Errorf("fluxo.type %q, want %q", got, tbl.Columns[0].Type)
	}
	vs, err := ValueSchema(tbl, "", cdc.ConnectorPostgres)
	if err != nil {
		t.Fatal(err)
	}
	if env := parse(t, vs).(*hamba.RecordSchema); env.FullName() != "Envelope" {
		t.Errorf("envelope %s", env.FullName())
	}
}
