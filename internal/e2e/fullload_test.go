package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/internal/command"
	"github.com/fluxo-cdc/fluxo/internal/config"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// pyRow is one record printed by testdata/read_bronze.py.
type pyRow struct {
	File  string         `json:"file"`
	Codec string         `json:"codec"`
	Value map[string]any `json:"value"`
}

// readBronzeAvro decodes Avro part files with Debian's python3-avro.
func readBronzeAvro(t *testing.T, files []string) []pyRow {
	t.Helper()
	requirePythonAvro(t)
	out, err := exec.Command("/usr/bin/python3", append([]string{"testdata/read_bronze.py"}, files...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("read_bronze.py: %v\n%s", err, stderr)
	}
	var rows []pyRow
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r pyRow
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("read_bronze.py printed %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// requirePythonAvro skips the test when Debian's python3-avro (with the
// snappy and zstandard codecs) is missing, and fails it in CI.
func requirePythonAvro(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import avro, snappy, zstandard").CombinedOutput()
	if err == nil {
		return
	}
	msg := "python3-avro, python3-snappy and python3-zstandard are needed (apt-get install python3-avro python3-snappy python3-zstandard): " + string(out)
	if testserver.InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// hambaLike turns a tagged value printed by read_bronze.py into the Go
// value a generic hamba reader decodes the Avro type avro to, so that the
// stream tests' renderers (pgAvroText, avroText) apply.
func hambaLike(v any, avro string) any {
	if items, ok := v.([]any); ok {
		item := strings.TrimSuffix(strings.TrimPrefix(avro, "array<"), ">")
		out := make([]any, len(items))
		for i, x := range items {
			out[i] = hambaLike(x, item)
		}
		return out
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v // nil, bool, string
	}
	base := avroBase(avro)
	switch {
	case m["i"] != nil:
		n, _ := strconv.ParseInt(m["i"].(string), 10, 64)
		switch base {
		case "int":
			return int(n)
		case "int.date":
			return time.Unix(n*86400, 0).UTC()
		case "long.timestamp-micros", "long.local-timestamp-micros":
			return time.UnixMicro(n).UTC()
		case "long.time-micros":
			return time.Duration(n) * time.Microsecond
		}
		return n
	case m["f"] != nil:
		b, _ := hex.DecodeString(m["f"].(string))
		var bits uint64
		for _, c := range b {
			bits = bits<<8 | uint64(c)
		}
		f := math.Float64frombits(bits)
		if base == "float" {
			return float32(f)
		}
		return f
	case m["b"] != nil:
		b, _ := hex.DecodeString(m["b"].(string))
		if base != "bytes.decimal" {
			return b
		}
		unscaled := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
			unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimalScale(avro))), nil)
		return new(big.Rat).SetFrac(unscaled, scale)
	}
	return v
}

// bronzeConfig is the test's config with bronze settings.
func (e *env) bronzeConfig(format, compression string, parallelism int) (*config.Config, string) {
	dir := filepath.Join(e.dir, "bronze")
	cfg := e.config("bronze:\n  url: file://" + dir + "\n  format: " + format + "\n  compression: " + compression +
		"\n  parallelism: " + strconv.Itoa(parallelism) + "\n")
	return cfg, dir
}

// runFullload runs fluxo fullload in the test process.
func (e *env) runFullload(cfg *config.Config, runID string, tables ...string) error {
	var summary bytes.Buffer
	err := command.Fullload(context.Background(), cfg, command.FullloadOptions{RunID: runID, Tables: tables, Summary: &summary}, e.logger())
	e.t.Logf("summary:\n%s", summary.String())
	return err
}

// runDir returns the run directory of a table and checks it is complete.
func runDir(t *testing.T, root, schema, table, runID string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(root, "t", schema, table, "date=*", "run="+runID))
	if len(matches) != 1 {
		t.Fatalf("run directories of %s.%s run %s: %v", schema, table, runID, matches)
	}
	if _, err := os.Stat(filepath.Join(matches[0], "_SUCCESS")); err != nil {
		t.Fatalf("%s.%s: %v", schema, table, err)
	}
	return matches[0]
}

// partFiles lists the part files of a run directory.
func partFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "part-*."+ext))
	sort.Strings(files)
	return files
}

func TestFullloadPGTypes(t *testing.T) {
	t.Run("utf8", func(t *testing.T) {
		testFullloadPGTypes(t, newPGEnv(t), pgTypeCols, []string{"snappy", "zstd", "deflate", "none"})
	})
	t.Run("latin1", func(t *testing.T) {
		testFullloadPGTypes(t, newPGEnvEncoding(t, "LATIN1"), latin1Cols(pgTypeCols), []string{"snappy"})
	})
}

func testFullloadPGTypes(t *testing.T, e *env, pgTypeCols []pgTypeCol, codecs []string) {
	e.exec(pgTypesSetup)
	e.exec(pgTypesDDL("types", pgTypeCols))
	e.exec(pgTypesDDL("types_nn", pgFallbackCols))
	e.exec(pgInsertRows("types", pgTypeCols, 1, pgTypeRows))
	e.exec(pgInsertRows("types_nn", pgFallbackCols, 1, 2))
	conn := e.pgConn()
	if _, err := conn.Exec(context.Background(), pgCanonical); err != nil {
		t.Fatal(err)
	}
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			cfg, root := e.bronzeConfig("avro", codec, 2)
			if err := e.runFullload(cfg, "types-"+codec); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				table string
				cols  []pgTypeCol
			}{{"types", pgTypeCols}, {"types_nn", pgFallbackCols}} {
				t.Run(tc.table, func(t *testing.T) {
					dir := runDir(t, root, "public", tc.table, "types-"+codec)
					rows := readBronzeAvro(t, partFiles(t, dir, "avro"))
					checkBronzeRows(t, rows, pgTypeTexts(t, conn, tc.table, tc.cols), tc.cols)
				})
			}
		})
	}
}

// checkBronzeRows compares decoded rows with the database's canonical texts.
func checkBronzeRows(t *testing.T, rows []pyRow, want map[int][]string, cols []pgTypeCol) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("read %d rows, the table has %d", len(rows), len(want))
	}
	seen := map[int]bool{}
	for _, r := range rows {
		id := hambaLike(r.Value["id"], "int").(int)
		if seen[id] {
			t.Errorf("id %d read twice", id)
		}
		seen[id] = true
		for j, c := range cols {
			got, exp := pgAvroText(hambaLike(r.Value[c.name], c.avro), c.avro), want[id][j]
			if strings.HasPrefix(c.avro, "array<") && exp != sqlNull {
				exp = normalizeJSONArray(exp)
			}
			if got != exp {
				t.Errorf("row %d %s (%s): decoded %s, database computes %s", id, c.name, r.Codec, clipText(got), clipText(exp))
			}
		}
	}
}

func TestFullloadMySQLTypes(t *testing.T) {
	e := newEnv(t)
	e.exec(typesDDL())
	c := e.typesConn()
	insertTypeRows(t, c, 1)
	insertTypeRows(t, c, 101)
	want := typeTexts(t, c)
	cfg, root := e.bronzeConfig("avro", "zstd", 2)
	if err := e.runFullload(cfg, "types"); err != nil {
		t.Fatal(err)
	}
	rows := readBronzeAvro(t, partFiles(t, runDir(t, root, e.dbName, "types", "types"), "avro"))
	if len(rows) != len(want) {
		t.Fatalf("read %d rows, the table has %d", len(rows), len(want))
	}
	seen := map[int]bool{}
	for _, r := range rows {
		id := hambaLike(r.Value["id"], "int").(int)
		if seen[id] || want[id] == nil {
			t.Fatalf("id %d read twice or unknown", id)
		}
		seen[id] = true
		for j, col := range typeCols {
			got, exp := avroText(hambaLike(r.Value[col.name], col.avro), col.avro), expectedText(col, want[id][j])
			if got != exp {
				t.Errorf("row %d %s: decoded %s, database holds %s", id, col.name, clipText(got), clipText(exp))
			}
		}
	}
}

// duckExpr is the DuckDB expression reading column x of Avro type avro in
// a form duckValue understands: dates, times and timestamps as numbers.
func duckExpr(x, avro string) string {
	if item, ok := strings.CutPrefix(avro, "array<"); ok {
		if inner := duckExpr("e", strings.TrimSuffix(item, ">")); inner != "e" {
			return "list_transform(" + x + ", lambda e: " + inner + ")"
		}
		return x
	}
	switch avroBase(avro) {
	case "int.date":
		return "date_diff('day', DATE '1970-01-01', " + x + ")"
	case "long.timestamp-micros", "long.local-timestamp-micros":
		// DuckDB reads the largest int64 (294247-01-10 04:00:54.775807,
		// which PostgreSQL allows) as its infinity.
		return "CASE WHEN isinf(" + x + ") THEN 9223372036854775807 ELSE epoch_us(" + x + ") END"
	case "long.time-micros":
		return "epoch_us(DATE '1970-01-01' + " + x + ")"
	}
	return x
}

// duckValue turns a value rendered by tools/duckdb/query.mjs into the Go
// value hamba decodes the Avro type avro to.
func duckValue(v any, avro string) any {
	if v == nil {
		return nil
	}
	if items, ok := v.([]any); ok {
		item := strings.TrimSuffix(strings.TrimPrefix(avro, "array<"), ">")
		out := make([]any, len(items))
		for i, x := range items {
			out[i] = duckValue(x, item)
		}
		return out
	}
	text := fmt.Sprint(v) // strings, json.Number
	switch base := avroBase(avro); base {
	case "int", "int.date", "long", "long.timestamp-micros", "long.local-timestamp-micros", "long.time-micros":
		return hambaLike(map[string]any{"i": text}, avro)
	case "bytes.decimal":
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			return "bad decimal " + text
		}
		return r
	case "float", "double":
		f, err := strconv.ParseFloat(strings.NewReplacer("Infinity", "Inf").Replace(text), 64)
		if text == "NaN" { // the text holds no payload: take the canonical quiet NaN
			f = math.Float64frombits(0x7ff8000000000000)
		}
		if err != nil {
			return "bad float " + text
		}
		if base == "float" {
			return float32(f)
		}
		return f
	case "bytes":
		b, _ := hex.DecodeString(text)
		return b
	}
	return v // boolean, string
}

func TestFullloadPGParquet(t *testing.T) {
	t.Run("utf8", func(t *testing.T) {
		testFullloadPGParquet(t, newPGEnv(t), pgTypeCols, []string{"snappy", "zstd", "none"})
	})
	t.Run("latin1", func(t *testing.T) {
		testFullloadPGParquet(t, newPGEnvEncoding(t, "LATIN1"), latin1Cols(pgTypeCols), []string{"zstd"})
	})
}

func testFullloadPGParquet(t *testing.T, e *env, pgTypeCols []pgTypeCol, codecs []string) {
	duck := testserver.DuckDBT(t)
	e.exec(pgTypesSetup)
	e.exec(pgTypesDDL("types", pgTypeCols))
	e.exec(pgInsertRows("types", pgTypeCols, 1, pgTypeRows))
	conn := e.pgConn()
	if _, err := conn.Exec(context.Background(), pgCanonical); err != nil {
		t.Fatal(err)
	}
	want := pgTypeTexts(t, conn, "types", pgTypeCols)
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			cfg, root := e.bronzeConfig("parquet", codec, 2)
			if err := e.runFullload(cfg, "pq-"+codec); err != nil {
				t.Fatal(err)
			}
			dir := runDir(t, root, "public", "types", "pq-"+codec)
			exprs := []string{`"id"`}
			for _, c := range pgTypeCols {
				exprs = append(exprs, duckExpr(`"`+c.name+`"`, c.avro)+` AS "`+c.name+`"`)
			}
			rows, err := duck.Query(context.Background(), "SELECT "+strings.Join(exprs, ", ")+
				" FROM read_parquet("+testserver.DuckDBString(filepath.Join(dir, "*.parquet"))+")")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(want) {
				t.Fatalf("DuckDB read %d rows, the table has %d", len(rows), len(want))
			}
			for _, r := range rows {
				n, _ := r["id"].(json.Number).Int64()
				id := int(n)
				for j, c := range pgTypeCols {
					got, exp := pgAvroText(duckValue(r[c.name], c.avro), c.avro), want[id][j]
					if strings.HasPrefix(c.avro, "array<") && exp != sqlNull {
						exp = normalizeJSONArray(exp)
					}
					if got != exp {
						t.Errorf("row %d %s: DuckDB reads %s, database computes %s", id, c.name, clipText(got), clipText(exp))
					}
				}
			}
		})
	}
}
