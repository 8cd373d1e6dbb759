package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// encColumn is a text column of the encodings table: its declaration per
// backend and the Unicode text of each row (all representable in the
// column's character set).
type encColumn struct {
	name string
	def  string
	vals [2]string
}

// mariadbEncColumns covers the character sets of issue 10 on a server left
// at its factory defaults: the database (and so column l) is latin1.
var mariadbEncColumns = []encColumn{
	{"u", "VARCHAR(40) CHARACTER SET utf8mb4", [2]string{"ação ünïcödé 日本", "🦊 𝄞 ÿ"}},
	{"l", "VARCHAR(40)", [2]string{"Ação Çedilha", "€ Œuvre ÿ ‰"}}, // the database default, latin1 (cp1252 in MariaDB)
	{"l1", "TEXT CHARACTER SET latin1", [2]string{"São Paulo ½", "naïve"}},
	{"a", "VARCHAR(40) CHARACTER SET ascii", [2]string{"plain ascii", "~!@#$%^&*()"}},
	{"uc", "VARCHAR(40) CHARACTER SET ucs2", [2]string{"ĀāĂ ação 日本", "Ωμέγα"}},
	{"u16", "VARCHAR(40) CHARACTER SET utf16", [2]string{"a😀é 日本", "𝄞"}},
	{"u3", "VARCHAR(40) CHARACTER SET utf8mb3", [2]string{"ação 日本", "Ж"}},
	{"e", "ENUM('ação','ü','日本') CHARACTER SET utf8mb4", [2]string{"ação", "日本"}},
	{"el", "ENUM('Ça','ß') CHARACTER SET latin1", [2]string{"Ça", "ß"}},
}

// pgEncColumns are the text columns of the PostgreSQL table, in a LATIN1 or
// WIN1252 database (win adds what only WIN1252 has).
func pgEncColumns(win bool) []encColumn {
	extra := ""
	if win {
		extra = " € Œ š"
	}
	return []encColumn{
		{"t", "text", [2]string{"Ação Çedilha ÿ" + extra, "naïve ½"}},
		{"v", "varchar(40)", [2]string{"São Paulo" + extra, "ß"}},
		{"c", "char(20)", [2]string{"Ça va", "Ñ" + extra}},
		{"j", "jsonb", [2]string{`{"ação": "ü"}`, `["ÿ"]`}},
		{"md", "mood_l1", [2]string{"très bien", "ça"}},
	}
}

// TestEncodings: text in legacy character sets, on servers with production
// defaults (a latin1 MariaDB; LATIN1 and WIN1252 PostgreSQL databases),
// reaches Kafka and the bronze layer as the same Unicode text through every
// path: the stream's snapshot, the binlog or pgoutput, and the full load in
// Avro and Parquet, as decoded by readers nobody here wrote (Python's
// confluent-kafka and avro, DuckDB). fluxo check and status work there too.
func TestEncodings(t *testing.T) {
	requirePythonAvro(t)
	t.Run("mariadb", func(t *testing.T) { testEncodings(t, newEnv(t), mariadbEncColumns) })
	t.Run("postgres_latin1", func(t *testing.T) { testEncodings(t, newPGEnvEncoding(t, "LATIN1"), pgEncColumns(false)) })
	t.Run("postgres_win1252", func(t *testing.T) { testEncodings(t, newPGEnvEncoding(t, "WIN1252"), pgEncColumns(true)) })
}

func testEncodings(t *testing.T, e *env, cols []encColumn) {
	if e.pg != nil {
		e.exec("CREATE TYPE mood_l1 AS ENUM ('très bien', 'ça')")
	}
	defs := []string{"id INT PRIMARY KEY"}
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
	}
	e.exec("CREATE TABLE enc (" + strings.Join(defs, ", ") + ")")
	insert := func(first int) {
		for i := range 2 {
			vals := []string{strconv.Itoa(first + i)}
			for _, c := range cols {
				vals = append(vals, "'"+strings.ReplaceAll(c.vals[i], "'", "''")+"'")
			}
			e.exec("INSERT INTO enc VALUES (" + strings.Join(vals, ", ") + ")")
		}
	}
	want := func(id int) map[string]string {
		m := map[string]string{}
		for _, c := range cols {
			v := c.vals[(id-1)%100]
			if strings.HasPrefix(c.def, "char(") {
				v += strings.Repeat(" ", 20-len([]rune(v))) // PostgreSQL pads char(n)
			}
			m[c.name] = v
		}
		return m
	}
	insert(1) // read by the snapshot
	cfg := e.config("")
	s := e.startStream(cfg)
	e.consume(e.topic("enc"), 2, 30*time.Second)
	insert(101) // read from the binlog / pgoutput
	e.consume(e.topic("enc"), 4, 30*time.Second)
	if err := s.stop(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	t.Run("stream", func(t *testing.T) {
		for _, r := range pythonDecode(t, e, e.topic("enc"), 4) {
			after, _ := r.Value["after"].(map[string]any)
			id := int(after["id"].(float64))
			compareText(t, fmt.Sprintf("%v row %d", r.Value["op"], id), after, want(id))
		}
	})
	for _, format := range []string{"avro", "parquet"} {
		t.Run("fullload_"+format, func(t *testing.T) {
			fcfg, root := e.bronzeConfig(format, "snappy", 1)
			if err := e.runFullload(fcfg, "enc-"+format); err != nil {
				t.Fatal(err)
			}
			schema := e.dbName
			if e.pg != nil {
				schema = "public"
			}
			dir := runDir(t, root, schema, "enc", "enc-"+format)
			for _, row := range readBronzeText(t, dir, format) {
				id, _ := strconv.Atoi(fmt.Sprint(row["id"]))
				compareText(t, fmt.Sprintf("row %d", id), row, want(id))
			}
		})
	}
	t.Run("check_and_status", func(t *testing.T) {
		r := runCheck(t, cfg)
		for _, l := range r.lines {
			if l.Status == cdc.CheckFail {
				t.Errorf("fluxo check: %s", r.printed(l.Name))
			}
		}
		if st := status(t, cfg); st.Lag == nil || st.Lag.Error != "" {
			t.Errorf("fluxo status lag: %+v", st.Lag)
		}
	})
}

// readBronzeText reads a run directory's rows with Python's avro or with
// DuckDB, every value as text (json as its document).
func readBronzeText(t *testing.T, dir, format string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if format == "avro" {
		for _, r := range readBronzeAvro(t, partFiles(t, dir, "avro")) {
			row := map[string]any{}
			for k, v := range r.Value {
				row[k] = fmt.Sprint(hambaLike(v, "string"))
			}
			out = append(out, row)
		}
		return out
	}
	duck := testserver.DuckDBT(t)
	rows, err := duck.Query(context.Background(), "SELECT * FROM read_parquet("+
		testserver.DuckDBString(filepath.Join(dir, "*.parquet"))+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		row := map[string]any{}
		for k, v := range r {
			if n, ok := v.(json.Number); ok {
				row[k] = n.String()
				continue
			}
			row[k] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	return out
}

// compareText checks each column's decoded text; json documents are
// compared as values.
func compareText(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for col, w := range want {
		g := fmt.Sprint(got[col])
		if strings.HasPrefix(w, "{") || strings.HasPrefix(w, "[") {
			g, w = canonicalJSON(g), canonicalJSON(w)
		}
		if g != w {
			t.Errorf("%s column %s: decoded %q, the database holds %q", what, col, g, w)
		}
	}
}

// canonicalJSON re-encodes a JSON document, or returns s if it is not one.
func canonicalJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
