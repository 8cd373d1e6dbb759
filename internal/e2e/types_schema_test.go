package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"
)

// Helpers of TestTypesRoundTrip: the registered value schema and raw
// records.

// typesColumnTypes returns information_schema COLUMN_TYPE by column name.
func typesColumnTypes(t *testing.T, c *client.Conn) map[string]string {
	t.Helper()
	r, err := c.Execute("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'types'")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]string{}
	for i := range r.Values {
		name, _ := r.GetString(i, 0)
		typ, _ := r.GetString(i, 1)
		out[strings.Clone(name)] = strings.Clone(typ) // the result's buffer is pooled after Close
	}
	return out
}

// typesAvroField is a field of the registered Value record.
type typesAvroField struct {
	Name    string
	Type    json.RawMessage
	Default json.RawMessage
}

// checkValueSchema fetches a value schema from the registry and checks the
// Avro type, "fluxo.type" and default of every column field.
func checkValueSchema(t *testing.T, regURL string, id int, colTypes map[string]string) {
	fields := typesValueFields(t, regURL, id)
	if len(fields) != len(typeCols)+1 {
		t.Errorf("value schema %d has %d fields, the table %d columns", id, len(fields), len(typeCols)+1)
	}
	byName := map[string]typesAvroField{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	for _, col := range append([]typeCol{{name: "id", avro: "int"}}, typeCols...) {
		t.Run(col.name, func(t *testing.T) {
			f, ok := byName[col.name]
			if !ok {
				t.Fatalf("no field %q in value schema %d", col.name, id)
			}
			var union []json.RawMessage
			var inner map[string]any
			if json.Unmarshal(f.Type, &union) != nil || len(union) != 2 || string(union[0]) != `"null"` ||
				json.Unmarshal(union[1], &inner) != nil {
				t.Fatalf("type %s is not [\"null\", {...}]", f.Type)
			}
			if string(f.Default) != "null" {
				t.Errorf("default is not null")
			}
			if got := describeAvroType(inner); got != col.avro {
				t.Errorf("avro type %s, want %s", got, col.avro)
			}
			if inner["fluxo.type"] != colTypes[col.name] {
				t.Errorf("fluxo.type %v, information_schema COLUMN_TYPE %q", inner["fluxo.type"], colTypes[col.name])
			}
		})
	}
}

// typesValueFields returns the fields of record Value in the schema id.
func typesValueFields(t *testing.T, regURL string, id int) []typesAvroField {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/schemas/ids/%d", regURL, id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc struct{ Schema string }
	var env struct{ Fields []typesAvroField }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("registry answer %s: %v", body, err)
	}
	if err := json.Unmarshal([]byte(doc.Schema), &env); err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	for _, f := range env.Fields {
		if f.Name != "before" {
			continue
		}
		var union []json.RawMessage
		var value struct{ Fields []typesAvroField }
		if err := json.Unmarshal(f.Type, &union); err != nil || len(union) != 2 {
			t.Fatalf("before is %s", f.Type)
		}
		if err := json.Unmarshal(union[1], &value); err != nil {
			t.Fatalf("before is %s: %v", f.Type, err)
		}
		return value.Fields
	}
	t.Fatalf("schema %d has no before field", id)
	return nil
}

// describeAvroType writes an inner field type as type[.logicalType][(p,s)][@connect.name].
func describeAvroType(m map[string]any) string {
	s := fmt.Sprint(m["type"])
	if lt, ok := m["logicalType"]; ok {
		s += "." + fmt.Sprint(lt)
	}
	if p, ok := m["precision"]; ok {
		s += fmt.Sprintf("(%v,%v)", p, m["scale"])
	}
	if cn, ok := m["connect.name"]; ok {
		s += "@" + fmt.Sprint(cn)
	}
	return s
}
