package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// indexRegistry is the schema registry of -mode tables: the part of the
// Confluent API that fluxo uses (register a subject's version, read a
// schema by id), with schemas indexed by their text, so that a
// registration costs as much at the 2,000th schema as at the first, as in
// Confluent's registry. (srfake compares a new schema with every schema it
// holds: at 1,000 tables its CPU time, not fluxo's, made most of the
// start-up.)
type indexRegistry struct {
	mu       sync.Mutex
	ids      map[string]int // schema text → id
	schemas  []string       // by id - 1
	subjects map[string]map[int]int
}

func newIndexRegistry() *indexRegistry {
	return &indexRegistry{ids: map[string]int{}, subjects: map[string]map[int]int{}}
}

// ServeHTTP implements http.Handler.
func (r *indexRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	switch p := req.URL.Path; {
	case req.Method == http.MethodPost && strings.HasPrefix(p, "/subjects/") && strings.HasSuffix(p, "/versions"):
		r.register(w, req, strings.TrimSuffix(strings.TrimPrefix(p, "/subjects/"), "/versions"))
	case req.Method == http.MethodGet && strings.HasPrefix(p, "/schemas/ids/"):
		r.byID(w, strings.TrimPrefix(p, "/schemas/ids/"))
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error_code":404,"message":"%s %s is not served by the bench registry"}`, req.Method, p)
	}
}

// register answers POST /subjects/{subject}/versions with the schema's id.
func (r *indexRegistry) register(w http.ResponseWriter, req *http.Request, subject string) {
	var body struct {
		Schema string `json:"schema"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil || body.Schema == "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"error_code":42201,"message":"invalid schema"}`)
		return
	}
	r.mu.Lock()
	id, ok := r.ids[body.Schema]
	if !ok {
		r.schemas = append(r.schemas, body.Schema)
		id = len(r.schemas)
		r.ids[body.Schema] = id
	}
	versions := r.subjects[subject]
	if versions == nil {
		versions = map[int]int{}
		r.subjects[subject] = versions
	}
	if _, ok := versions[id]; !ok {
		versions[id] = len(versions) + 1
	}
	r.mu.Unlock()
	fmt.Fprintf(w, `{"id":%d}`, id)
}

// byID answers GET /schemas/ids/{id}.
func (r *indexRegistry) byID(w http.ResponseWriter, idText string) {
	id, err := strconv.Atoi(idText)
	r.mu.Lock()
	var schema string
	if err == nil && id >= 1 && id <= len(r.schemas) {
		schema = r.schemas[id-1]
	}
	r.mu.Unlock()
	if schema == "" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
		return
	}
	b, _ := json.Marshal(map[string]string{"schema": schema})
	w.Write(b)
}
