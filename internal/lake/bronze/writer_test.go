package bronze

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestWriterConformance checks NewWriter, Commit, Abort and Copy against
// every backend: nothing is visible before Commit, an aborted object never
// appears, and neither path overwrites.
func TestWriterConformance(t *testing.T) {
	ctx := context.Background()
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			s := bc.open(t)
			w, err := s.NewWriter(ctx, "a/part-00001.avro")
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("hello "))
			w.Write([]byte("world"))
			if ok, _ := s.Exists(ctx, "a/part-00001.avro"); ok {
				t.Fatal("visible before Commit")
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Read(ctx, "a/part-00001.avro"); err != nil || string(got) != "hello world" {
				t.Fatalf("read = %q, %v", got, err)
			}
			if _, err := s.NewWriter(ctx, "a/part-00001.avro"); !errors.Is(err, ErrExists) {
				t.Fatalf("NewWriter on an existing key: %v", err)
			}
			a, err := s.NewWriter(ctx, "a/part-00002.avro")
			if err != nil {
				t.Fatal(err)
			}
			a.Write([]byte("discard me"))
			a.Abort()
			if ok, _ := s.Exists(ctx, "a/part-00002.avro"); ok {
				t.Fatal("an aborted object exists")
			}
			if err := s.Copy(ctx, "b/copy.avro", "a/part-00001.avro"); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Read(ctx, "b/copy.avro"); string(got) != "hello world" {
				t.Fatalf("copy = %q", got)
			}
			if err := s.Copy(ctx, "b/copy.avro", "a/part-00001.avro"); !errors.Is(err, ErrExists) {
				t.Fatalf("Copy over an existing key: %v", err)
			}
			keys, _ := s.List(ctx, "")
			if strings.Join(keys, ",") != "a/part-00001.avro,b/copy.avro" {
				t.Fatalf("keys = %v", keys)
			}
		})
	}
}

// TestCopyThroughFluxo: a store whose server-side copy fails (s3rver
// answers NoSuchBucket for the escaped copy source) gets the object copied
// through fluxo, byte for byte and still never over an existing one; the
// store is asked to copy only once; and when the source is missing, the
// error names the copy and both attempts.
func TestCopyThroughFluxo(t *testing.T) {
	setS3Env(t)
	ctx := context.Background()
	var copies atomic.Int64
	s := openOK(t, "s3://lake/bronze?region=us-east-1&use_path_style=true&endpoint="+copyRefusingS3(t, "lake", &copies))
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, streamed
	if err := s.Create(ctx, "_fluxo/run/staging/part-00001.avro", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for i, dst := range []string{"acc/items/part-00001.avro", "acc/items/part-00002.avro"} {
		if err := s.Copy(ctx, dst, "_fluxo/run/staging/part-00001.avro"); err != nil {
			t.Fatalf("copy %d: %v", i+1, err)
		}
		if got, err := s.Read(ctx, dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("copy %d: read %d bytes, %v; want the %d bytes of the source", i+1, len(got), err, len(data))
		}
	}
	if n := copies.Load(); n != 1 {
		t.Fatalf("the store was asked to copy %d times, want once (then fluxo copies)", n)
	}
	if err := s.Copy(ctx, "acc/items/part-00001.avro", "_fluxo/run/staging/part-00001.avro"); !errors.Is(err, ErrExists) {
		t.Fatalf("copy over an existing key: %v", err)
	}

	fresh := openOK(t, "s3://lake/bronze?region=us-east-1&use_path_style=true&endpoint="+copyRefusingS3(t, "lake", &copies))
	err := fresh.Copy(ctx, "acc/items/part-00003.avro", "_fluxo/run/staging/missing.avro")
	if err == nil {
		t.Fatal("copy of a missing object succeeded")
	}
	for _, want := range []string{`copy "_fluxo/run/staging/missing.avro" to "acc/items/part-00003.avro"`, "server-side copy failed", "NoSuchBucket", "through fluxo", `read "_fluxo/run/staging/missing.avro"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ok, _ := fresh.Exists(ctx, "acc/items/part-00003.avro"); ok {
		t.Fatal("a failed copy left an object")
	}
}

func TestRemoveTemp(t *testing.T) {
	root := t.TempDir()
	s := openOK(t, "file://"+root)
	dir := filepath.Join(root, "x", "run=1")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "part-00001.avro.18c2f0a1b2c3d4e5.tmp"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(dir, "part-00002.avro"), []byte("whole"), 0o644)
	n, err := s.RemoveTemp("x/run=1")
	if err != nil || n != 1 {
		t.Fatalf("RemoveTemp = %d, %v", n, err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 || left[0].Name() != "part-00002.avro" {
		t.Fatalf("left %v", left)
	}
	if n, err := s.RemoveTemp("missing/dir"); n != 0 || err != nil {
		t.Fatalf("RemoveTemp(missing) = %d, %v", n, err)
	}
}
