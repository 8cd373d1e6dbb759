package main

import (
	"net/http/httptest"
	"testing"

	"github.com/riferrei/srclient"
)

// TestIndexRegistry: the bench registry answers srclient's registration as
// a Confluent registry does: one id per schema text, shared by subjects,
// and the schema read back by id.
func TestIndexRegistry(t *testing.T) {
	srv := httptest.NewServer(newIndexRegistry())
	defer srv.Close()
	c := srclient.NewSchemaRegistryClient(srv.URL)
	a, b := `{"type":"record","name":"a","fields":[]}`, `{"type":"record","name":"b","fields":[]}`
	ids := map[string]int{}
	for _, reg := range []struct{ subject, schema, name string }{
		{"x-value", a, "a1"}, {"x-value", a, "a2"}, {"y-value", a, "a3"}, {"y-value", b, "b"},
	} {
		s, err := c.CreateSchema(reg.subject, reg.schema, srclient.Avro)
		if err != nil {
			t.Fatalf("%s: %v", reg.name, err)
		}
		if s.Schema() != reg.schema {
			t.Errorf("%s: read back %s", reg.name, s.Schema())
		}
		ids[reg.name] = s.ID()
	}
	if ids["a1"] != ids["a2"] || ids["a1"] != ids["a3"] || ids["b"] == ids["a1"] {
		t.Errorf("ids %v: want one per schema text", ids)
	}
}
