package fullload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
)

func openStore(t *testing.T) (*bronze.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := bronze.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func testOptions(d cdc.Dumper, s *bronze.Store, runID string) Options {
	return Options{Name: "shop", Dumper: d, Store: s, Format: "avro", Compression: "snappy",
		Parallelism: 3, MaxPartBytes: 64 << 10, ChunkRows: 700, RunID: runID, Version: "test",
		Now: func() time.Time { return time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC) }}
}

// readTable decodes every part file of a table's run directory, checks the
// manifest's row counts and checksums, and returns the ids read.
func readTable(t *testing.T, root, table, runID string) []int64 {
	t.Helper()
	dir := filepath.Join(root, "shop", "shop", table, "date=2026-11-21", "run="+runID)
	if _, err := os.Stat(filepath.Join(dir, bronze.SuccessName)); err != nil {
		t.Fatalf("%s: no _SUCCESS: %v", table, err)
	}
	var m manifest
	data, err := os.ReadFile(filepath.Join(dir, bronze.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") {
			names = append(names, e.Name())
		}
	}
	if len(names) != len(m.Files) {
		t.Fatalf("%s: %d part files, manifest lists %d", table, len(names), len(m.Files))
	}
	var ids []int64
	var total int64
	for i, f := range m.Files {
		if f.Path != names[i] {
			t.Fatalf("manifest file %d is %s, directory has %s", i, f.Path, names[i])
		}
		raw, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if f.Bytes > testOptions(nil, nil, "").MaxPartBytes {
			t.Errorf("%s is %d bytes, over the part bound", f.Path, f.Bytes)
		}
		sum := sha256.Sum256(raw)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(raw)) != f.Bytes {
			t.Fatalf("%s: checksum or size differs from the manifest", f.Path)
		}
		dec, err := ocf.NewDecoder(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for dec.HasNext() {
			var rec map[string]any
			if err := dec.Decode(&rec); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rec["id"].(int64))
			n++
		}
		if err := dec.Error(); err != nil {
			t.Fatal(err)
		}
		if n != f.Rows {
			t.Fatalf("%s: %d rows, manifest says %d", f.Path, n, f.Rows)
		}
		total += n
	}
	if total != m.Rows {
		t.Fatalf("%s: %d rows, manifest total %d", table, total, m.Rows)
	}
	sortIDs(ids)
	return ids
}

func sortIDs(ids []int64) { sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) }

// checkIDs fails unless ids are exactly the fake table's ids, once each.
func checkIDs(t *testing.T, table string, ids []int64, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("%s: read %d rows, want %d", table, len(ids), n)
	}
	for i, id := range ids {
		if id != int64(i*3+1) {
			t.Fatalf("%s: row %d has id %d, want %d (duplicate or missing row)", table, i, id, i*3+1)
		}
	}
}

func TestRunLoadsEverySplitKind(t *testing.T) {
	store, root := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 5000, cdc.SplitKey)
	d.addTable("events", 3000, cdc.SplitNone)
	d.addTable("pages", 2500, cdc.SplitPages)
	d.addTable("empty", 0, cdc.SplitKey)
	res, err := Run(context.Background(), testOptions(d, store, "r1"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"orders": 5000, "events": 3000, "pages": 2500, "empty": 0}
	for name, n := range want {
		t.Run(name, func(t *testing.T) {
			checkIDs(t, name, readTable(t, root, name, "r1"), n)
		})
	}
	for _, tr := range res.Tables {
		if tr.Err != nil || int(tr.Rows) != want[tr.Table.Name] {
			t.Errorf("result %+v", tr)
		}
	}
}

func TestResumeAfterCrash(t *testing.T) {
	for _, failAfter := range []int64{1, 2000, 7000} {
		t.Run("after "+itoa(failAfter)+" rows", func(t *testing.T) {
			store, root := openStore(t)
			d := newFakeDumper()
			d.addTable("orders", 5000, cdc.SplitKey)
			d.addTable("events", 3000, cdc.SplitNone)
			d.failAfter.Store(failAfter)
			if _, err := Run(context.Background(), testOptions(d, store, "r1")); err == nil || !strings.Contains(err.Error(), "--run-id r1") {
				t.Fatalf("crashed run: err = %v", err)
			}
			d.failAfter.Store(0)
			if _, err := Run(context.Background(), testOptions(d, store, "r1")); err != nil {
				t.Fatal(err)
			}
			checkIDs(t, "orders", readTable(t, root, "orders", "r1"), 5000)
			checkIDs(t, "events", readTable(t, root, "events", "r1"), 3000)
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestResumeRejectsOtherTables(t *testing.T) {
	store, _ := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 100, cdc.SplitKey)
	d.addTable("events", 100, cdc.SplitNone)
	o := testOptions(d, store, "r1")
	o.Only = []string{"shop.orders"}
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Only = nil
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "was started with tables [shop.orders]") {
		t.Fatalf("err = %v", err)
	}
}

func TestTableGone(t *testing.T) {
	store, root := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 1000, cdc.SplitKey)
	d.addTable("events", 100, cdc.SplitNone)
	d.gone[cdc.TableID{Schema: "shop", Name: "events"}] = true
	_, err := Run(context.Background(), testOptions(d, store, "r1"))
	if err == nil || !strings.Contains(err.Error(), "dropped or renamed") {
		t.Fatalf("err = %v", err)
	}
	checkIDs(t, "orders", readTable(t, root, "orders", "r1"), 1000)
	if _, err := os.Stat(filepath.Join(root, "shop", "shop", "events", "date=2026-11-21", "run=r1", bronze.SuccessName)); err == nil {
		t.Fatal("the dropped table was marked complete")
	}
}

func TestSecondRunLeavesFirstAlone(t *testing.T) {
	store, root := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 2000, cdc.SplitKey)
	if _, err := Run(context.Background(), testOptions(d, store, "r1")); err != nil {
		t.Fatal(err)
	}
	before := snapshotDir(t, root)
	if _, err := Run(context.Background(), testOptions(d, store, "r2")); err != nil {
		t.Fatal(err)
	}
	after := snapshotDir(t, root)
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed or vanished", name)
		}
	}
	// Resuming a complete run writes nothing.
	if _, err := Run(context.Background(), testOptions(d, store, "r1")); err != nil {
		t.Fatal(err)
	}
	again := snapshotDir(t, root)
	for name := range again {
		if _, ok := after[name]; !ok && !strings.Contains(name, "attempt-") {
			t.Errorf("resuming a complete run wrote %s", name)
		}
	}
}

// snapshotDir maps every file under root to its checksum and mtime.
func snapshotDir(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		out[p] = hex.EncodeToString(sum[:]) + info.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBadValue(t *testing.T) {
	store, _ := openStore(t)
	d := newFakeDumper()
	d.addTable("orders", 100, cdc.SplitKey)
	d.rows[cdc.TableID{Schema: "shop", Name: "orders"}][50][2] = "not a number"
	_, err := Run(context.Background(), testOptions(d, store, "r1"))
	if err == nil || !strings.Contains(err.Error(), "amount") {
		t.Fatalf("err = %v", err)
	}
}
