package checkpoint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileContract runs the Store contract on the file store.
func TestFileContract(t *testing.T) {
	runStoreContract(t, func(t *testing.T) func(string) Store {
		path := filepath.Join(t.TempDir(), "sub", "shop.checkpoint")
		return func(name string) Store { return NewFile(path, name) }
	})
}

// TestFile: no temp files are left behind, the parts directory holds only
// the parts the checkpoint references (leftovers of a crash between parts
// and file included), a small change writes little, and a corrupt file or
// part is named with the fix.
func TestFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.checkpoint")
	s := NewFile(path, "shop")
	save := func(pos []byte) {
		t.Helper()
		if err := s.Save(ctx, &Checkpoint{Name: "shop", Position: pos, SavedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	save(positionLike(500, "0-1-1", 1))
	if err := os.WriteFile(filepath.Join(path+".parts", "left-by-a-crash.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = NewFile(path, "shop") // a new process
	save(positionLike(500, "0-1-2", 2))
	_, parts, err := split(positionLike(500, "0-1-2", 2))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(path + ".parts")
	if len(entries) != len(parts) {
		t.Fatalf("%d files in the parts directory, want the %d parts referenced", len(entries), len(parts))
	}
	top, _ := os.ReadDir(dir)
	if len(top) != 2 {
		t.Fatalf("files beside the checkpoint: %v; want it and its parts directory", top)
	}
	if st, _ := os.Stat(path); st.Size() > 8<<10 {
		t.Fatalf("the checkpoint file of 500 tables is %d bytes", st.Size())
	}
	for _, e := range entries[:1] {
		if err := os.WriteFile(filepath.Join(path+".parts", e.Name()), []byte("[]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Load(ctx); err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), ".parts") {
		t.Fatalf("Load with a corrupt part: %v", err)
	}
	if err := os.WriteFile(path, []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Load of a corrupt file: %v", err)
	}
}

// TestFileFormat1: a checkpoint written by an earlier fluxo (the position
// inline) is read, and the next save writes the current format.
func TestFileFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.checkpoint")
	old := `{"format":1,"name":"shop","connector":"mysql","position":"eyJwb3MiOjR9","describe":"d","saved_at":"2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := NewFile(path, "shop").Load(context.Background())
	if err != nil || string(cp.Position) != `{"pos":4}` {
		t.Fatalf("Load of format 1 = %+v, %v", cp, err)
	}
}
