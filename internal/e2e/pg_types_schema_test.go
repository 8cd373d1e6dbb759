package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Helpers of TestPGTypesRoundTrip (registered schemas, TOAST) and
// TestPGTypesStop.

// pgColumnTypes returns format_type of every column of table, and of its
// elements for an array column ("" otherwise), by column name.
func pgColumnTypes(t *testing.T, conn *pgx.Conn, table string) map[string][2]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
		CASE WHEN ty.typelem <> 0 AND ty.typlen = -1 THEN format_type(ty.typelem, a.atttypmod) ELSE '' END
		FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var name, typ, elem string
		if err := rows.Scan(&name, &typ, &elem); err != nil {
			t.Fatal(err)
		}
		out[name] = [2]string{typ, elem}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkPGSchemas checks that the records of table use one value schema and
// that its Value record has, per column, ["null", T] with default null,
// where T is the SPEC §4 type with "fluxo.type" equal to the database's
// format_type (and its elements' for arrays) and Debezium's "connect.name".
func (e *env) checkPGSchemas(t *testing.T, conn *pgx.Conn, table string, cols []pgTypeCol, recs []*kgo.Record) {
	ids := map[uint32]bool{}
	for _, r := range recs {
		ids[pgSchemaID(r.Value)] = true
	}
	if len(ids) != 1 {
		t.Errorf("snapshot and pgoutput records use value schema ids %v, want one schema", ids)
	}
	types := pgColumnTypes(t, conn, table)
	for id := range ids {
		fields := typesValueFields(t, e.regURL, int(id))
		if len(fields) != len(cols)+1 {
			t.Errorf("value schema %d has %d fields, the table %d columns", id, len(fields), len(cols)+1)
		}
		byName := map[string]typesAvroField{}
		for _, f := range fields {
			byName[f.Name] = f
		}
		for _, c := range append([]pgTypeCol{{name: "id", avro: "int"}}, cols...) {
			t.Run(c.name, func(t *testing.T) {
				f, ok := byName[c.name]
				if !ok {
					t.Fatalf("no field %q in value schema %d", c.name, id)
				}
				var union []json.RawMessage
				var inner map[string]any
				if json.Unmarshal(f.Type, &union) != nil || len(union) != 2 || string(union[0]) != `"null"` ||
					json.Unmarshal(union[1], &inner) != nil {
					t.Fatalf("type %s is not [\"null\", {...}]", f.Type)
				}
				if string(f.Default) != "null" {
					t.Errorf("default is %s, want null", f.Default)
				}
				if got := describePGAvroType(inner); got != c.avro {
					t.Errorf("avro type %s, want %s", got, c.avro)
				}
				want := types[c.name]
				if inner["fluxo.type"] != want[0] {
					t.Errorf("fluxo.type %v, format_type %q", inner["fluxo.type"], want[0])
				}
				if want[1] != "" {
					if got := arrayItem(inner)["fluxo.type"]; got != want[1] {
						t.Errorf("elements' fluxo.type %v, format_type %q", got, want[1])
					}
				}
			})
		}
	}
}

// arrayItem returns T of an array type's items ["null", T], or nil.
func arrayItem(m map[string]any) map[string]any {
	items, ok := m["items"].([]any)
	if !ok || len(items) != 2 || items[0] != "null" {
		return nil
	}
	item, _ := items[1].(map[string]any)
	return item
}

// describePGAvroType is describeAvroType, with arrays as array<items>.
func describePGAvroType(m map[string]any) string {
	if m["type"] != "array" {
		return describeAvroType(m)
	}
	item := arrayItem(m)
	if item == nil {
		return fmt.Sprintf("array of %v, not of [\"null\", {...}]", m["items"])
	}
	return "array<" + describePGAvroType(item) + ">"
}

// pgToastSetup creates two tables whose big column is stored out of line
// and uncompressed (STORAGE EXTERNAL) with a 20 KB value: one with the
// default replica identity, one with REPLICA IDENTITY FULL.
const pgToastSetup = `CREATE TABLE toast_default (id int4 PRIMARY KEY, big text, n int4);
CREATE TABLE toast_full (id int4 PRIMARY KEY, big text, n int4);
ALTER TABLE toast_default ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE toast_full ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE toast_full REPLICA IDENTITY FULL;
INSERT INTO toast_default SELECT 1, string_agg(md5('d' || i), '' ORDER BY i), 0 FROM generate_series(1, 640) i;
INSERT INTO toast_full SELECT 1, string_agg(md5('f' || i), '' ORDER BY i), 0 FROM generate_series(1, 640) i`

// toastState is what the database held around the TOAST changes.
type toastState struct {
	chunks map[string]int // TOAST chunks per table before the updates
	big    map[string]string
}

// runToastChanges makes, on the running stream, updates that leave the
// TOASTed value unchanged: (a) on toast_default, of the snapshot row 1 and
// of a row 2 inserted now; (b) on toast_full, of row 1 in a transaction
// that changes big afterwards, so that a re-read by primary key would see
// the later value and only the old tuple has the right one.
func runToastChanges(e *env) toastState {
	e.t.Helper()
	e.exec(`INSERT INTO toast_default SELECT 2, string_agg(md5('e' || i), '' ORDER BY i), 0 FROM generate_series(1, 640) i`)
	st := toastState{chunks: map[string]int{}, big: map[string]string{}}
	conn := e.pgConn()
	ctx := context.Background()
	for _, table := range []string{"toast_default", "toast_full"} {
		var toastRel string
		if err := conn.QueryRow(ctx, "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass", table).Scan(&toastRel); err != nil {
			e.t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+toastRel).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		st.chunks[table] = n
		rows, err := conn.Query(ctx, "SELECT id, big FROM "+table)
		if err != nil {
			e.t.Fatal(err)
		}
		for rows.Next() {
			var id int
			var big string
			if err := rows.Scan(&id, &big); err != nil {
				e.t.Fatal(err)
			}
			st.big[fmt.Sprintf("%s/%d", table, id)] = big
		}
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
	}
	e.exec("UPDATE toast_default SET n = 1 WHERE id = 1")
	e.exec("UPDATE toast_default SET n = 1 WHERE id = 2")
	e.exec("BEGIN; UPDATE toast_full SET n = 1 WHERE id = 1; UPDATE toast_full SET big = 'short', n = 2 WHERE id = 1; COMMIT")
	return st
}

// checkToast checks the records of the TOAST tables: every after image
// (and the before image of REPLICA IDENTITY FULL) holds the value the row
// had at that point, in full.
func checkToast(t *testing.T, st toastState, def, full []record) {
	for table, n := range st.chunks {
		if n == 0 {
			t.Fatalf("%s has no TOAST chunks: the value is not stored out of line and the test proves nothing", table)
		}
	}
	orig := func(key string) string {
		if len(st.big[key]) < 16000 {
			t.Fatalf("%s holds %d bytes, want a value of 20 KB", key, len(st.big[key]))
		}
		return st.big[key]
	}
	type image struct {
		op, big string
		n       int64
	}
	tests := []struct {
		name       string
		recs       []record
		id         int64
		after      []image
		beforeBigs []string // of the updates; "" = no before image
	}{
		{"default_identity/snapshot_row", def, 1,
			[]image{{"r", orig("toast_default/1"), 0}, {"u", orig("toast_default/1"), 1}}, []string{""}},
		{"default_identity/inserted_row", def, 2,
			[]image{{"c", orig("toast_default/2"), 0}, {"u", orig("toast_default/2"), 1}}, []string{""}},
		{"full_identity", full, 1,
			[]image{{"r", orig("toast_full/1"), 0}, {"u", orig("toast_full/1"), 1}, {"u", "short", 2}},
			[]string{orig("toast_full/1"), orig("toast_full/1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []record
			for _, r := range tc.recs {
				if toInt64(r.Key["id"]) == tc.id {
					got = append(got, r)
				}
			}
			if len(got) != len(tc.after) {
				t.Fatalf("got %d records, want %d: %v", len(got), len(tc.after), describeAll(got))
			}
			updates := 0
			for i, w := range tc.after {
				r := got[i]
				after := rowOf(r.Value["after"])
				big, _ := after["big"].(string)
				if r.Value["op"] != w.op || toInt64(unwrapBranch(after["n"])) != w.n {
					t.Errorf("record %d: op %v n %v, want op %s n %d", i, r.Value["op"], after["n"], w.op, w.n)
				}
				if big != w.big {
					t.Errorf("record %d (op %s): after.big is %s, want the %d bytes the row held", i, w.op, clipText(big), len(w.big))
				}
				if w.op != "u" {
					continue
				}
				before := rowOf(r.Value["before"])
				switch wb := tc.beforeBigs[updates]; {
				case wb == "" && before != nil:
					t.Errorf("record %d: a before image %v without REPLICA IDENTITY FULL", i, before["n"])
				case wb != "":
					if b, _ := before["big"].(string); b != wb {
						t.Errorf("record %d: before.big is %s, want the %d bytes of the old row", i, clipText(b), len(wb))
					}
				}
				updates++
			}
		})
	}
}

// pgStreamEnded waits for a stream to end by itself and returns its error;
// it fails the test when the stream is still running after timeout.
func pgStreamEnded(t *testing.T, s *streamer, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.stopped, s.err = true, err
		return err
	case <-time.After(timeout):
		t.Fatalf("the stream still runs after %v: it should have stopped with an error", timeout)
		return nil
	}
}

// TestPGTypesStop checks values that no Avro value of the column's schema
// can hold: on the snapshot and on the pgoutput path, fluxo stops (rather
// than retrying forever or sending something else) with an error that
// names the table, the column, the reason and the fix; and the fix
// suggested for multi-dimensional arrays, excluding the column, works.
func TestPGTypesStop(t *testing.T) {
	tests := []struct {
		name    string
		def     string // of column v
		bad     string // a value that stops fluxo
		stream  bool   // the bad row comes through pgoutput, else the snapshot
		want    []string
		exclude bool // then restart with v excluded and expect the row
	}{
		{"2d_array/pgoutput", "int4[]", "'{{1,2},{3,4}}'", true, []string{"public.bad", "column v", "integer[]",
			"holds a 2-dimensional array", "one-dimensional Avro arrays", "exclude the column (source.exclude_columns"}, true},
		{"3d_array/snapshot", "text[]", "'{{{a}}}'", false, []string{"snapshot of public.bad", "column v", "text[]",
			"holds a 3-dimensional array", "exclude the column (source.exclude_columns"}, false},
		{"nan_not_null/pgoutput", "numeric(10,2) NOT NULL", "'NaN'", true, []string{"public.bad", "column v", "numeric(10,2)",
			"holds NaN", "make the column nullable"}, false},
		{"timestamp_beyond_micros/pgoutput", "timestamp", "'294276-12-31 23:59:59'", true, []string{"public.bad", "column v",
			"timestamp without time zone", "294276-12-31 23:59:59", "beyond the range"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPGEnv(t)
			e.exec("CREATE TABLE bad (id int4 PRIMARY KEY, v " + tc.def + ")")
			var s *streamer
			if tc.stream {
				s = e.startStreamReady(e.config(""))
				e.exec("INSERT INTO bad VALUES (1, " + tc.bad + ")")
			} else {
				e.exec("INSERT INTO bad VALUES (1, " + tc.bad + ")")
				s = e.startStream(e.config(""))
			}
			err := pgStreamEnded(t, s, 15*time.Second)
			if err == nil {
				t.Fatal("the stream ended without an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := e.consumeUntilQuiet(e.topic("bad"), 500*time.Millisecond); len(got) != 0 {
				t.Errorf("the bad row was sent: %v", describeAll(got))
			}
			if !tc.exclude {
				return
			}
			cfg := e.config("")
			cfg.Source.ExcludeColumns = []string{"public.bad.v"}
			s = e.startStream(e.reload(cfg))
			recs := e.consume(e.topic("bad"), 1, 30*time.Second)
			if err := s.stop(); err != nil {
				t.Fatalf("stream with the column excluded: %v", err)
			}
			row := rowOf(recs[0].Value["after"])
			if _, ok := row["v"]; ok || recs[0].Value["op"] != "c" || toInt64(unwrapBranch(row["id"])) != 1 {
				t.Errorf("with the column excluded: op %v, after %v; want op c of row 1 without v", recs[0].Value["op"], row)
			}
		})
	}
}
