package checkpoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "shop.checkpoint")
	s := NewFile(path, "shop")

	t.Run("missing", func(t *testing.T) {
		cp, err := s.Load(ctx)
		if err != nil || cp != nil {
			t.Fatalf("Load on missing file = %v, %v; want nil, nil", cp, err)
		}
	})
	t.Run("roundtrip and replace", func(t *testing.T) {
		for i, pos := range []string{"first", "second"} {
			want := &Checkpoint{Name: "shop", Connector: "mysql", Position: []byte(pos), Describe: pos, SavedAt: time.Unix(int64(i), 0).UTC()}
			if err := s.Save(ctx, want); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Position, want.Position) || got.Name != "shop" || !got.SavedAt.Equal(want.SavedAt) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("temp files left behind: %v", entries)
		}
	})
	t.Run("other stream", func(t *testing.T) {
		_, err := NewFile(path, "other").Load(ctx)
		if err == nil || !strings.Contains(err.Error(), `belongs to stream "shop"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		if err := os.WriteFile(path, []byte("{half"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(ctx)
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("err = %v", err)
		}
	})
}
