package checkpoint

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// positionLike is a position shaped as MySQL's: every table's schema, the
// captured list and an incremental snapshot queue, each growing with the
// table count.
func positionLike(tables int, gtid string, rows int) []byte {
	type col struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Len  int    `json:"length"`
	}
	type table struct {
		ID      map[string]string `json:"id"`
		Columns []col             `json:"columns"`
		Version int               `json:"version"`
	}
	type cursor struct {
		Table map[string]string `json:"table"`
		Rows  int               `json:"rows"`
		Last  []map[string]any  `json:"last,omitempty"`
	}
	doc := struct {
		GTID     string              `json:"gtid_set"`
		Pos      uint32              `json:"pos"`
		Big      uint64              `json:"big"`
		Tables   []table             `json:"tables"`
		Captured []map[string]string `json:"captured"`
		Inc      map[string][]cursor `json:"incremental"`
	}{GTID: gtid, Pos: 4, Big: 1<<63 + 1, Inc: map[string][]cursor{}}
	for i := range tables {
		id := map[string]string{"schema": "shop", "name": fmt.Sprintf("t%05d", i)}
		t := table{ID: id, Version: 1}
		for c := range 21 {
			t.Columns = append(t.Columns, col{Name: fmt.Sprintf("column_%02d", c), Type: "varchar(255)", Len: 255})
		}
		doc.Tables = append(doc.Tables, t)
		doc.Captured = append(doc.Captured, id)
		doc.Inc["tables"] = append(doc.Inc["tables"], cursor{Table: id})
	}
	if tables > 0 {
		doc.Inc["tables"][0].Rows = rows
		doc.Inc["tables"][0].Last = []map[string]any{{"t": "i", "v": fmt.Sprint(rows)}}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

func sameJSON(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %.300s", err, b)
	}
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("joined position differs from the original:\n%.300s\n%.300s", a, b)
	}
}

// TestSplitJoin: join(split(p)) is p for positions of every size around
// the page boundaries, with numbers kept exact.
func TestSplitJoin(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 500, 64*64 + 1, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := positionLike(n, "0-1-42", 7)
			head, parts, err := split(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := join(head, func(d string) ([]byte, error) {
				b, ok := parts[d]
				if !ok {
					return nil, fmt.Errorf("no part %s", d)
				}
				return b, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, p, got)
			if !strings.Contains(string(got), "9223372036854775809") {
				t.Fatal("the uint64 lost precision")
			}
		})
	}
}

// TestSplitWritesLittle: from one save to the next, with the transaction
// position and the snapshot cursor moved, the head and the parts not
// written before stay small at 500 and 5,000 tables; a corrupt part is
// refused.
func TestSplitWritesLittle(t *testing.T) {
	for _, n := range []int{500, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, before, err := split(positionLike(n, "0-1-42", 7))
			if err != nil {
				t.Fatal(err)
			}
			full := positionLike(n, "0-1-43", 8192)
			head, parts, err := split(full)
			if err != nil {
				t.Fatal(err)
			}
			written := len(head)
			for d, b := range parts {
				if _, ok := before[d]; !ok {
					written += len(b)
				}
			}
			t.Logf("%d tables: position %d bytes, head %d bytes, %d bytes written per save", n, len(full), len(head), written)
			if len(head) > 8<<10 || written > 32<<10 {
				t.Fatalf("a save writes %d bytes (head %d) of a %d-byte position", written, len(head), len(full))
			}
			for d := range parts {
				bad := func(x string) ([]byte, error) {
					if x == d {
						return []byte(`[]`), nil
					}
					return parts[x], nil
				}
				if _, err := join(head, bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
					t.Fatalf("a corrupt part joined: %v", err)
				}
				break
			}
		})
	}
}

// BenchmarkSplit measures what a save costs to split a position of 500
// tables (MB/s of position).
func BenchmarkSplit(b *testing.B) {
	for _, n := range []int{500, 5000} {
		p := positionLike(n, "0-1-42", 7)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if _, _, err := split(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
