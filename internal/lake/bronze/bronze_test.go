package bronze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// backendCase opens a fresh, empty store for the conformance suite.
type backendCase struct {
	name string
	open func(t *testing.T) *Store
}

// ignoresIfNoneMatch names the stores that overwrite on a PUT with
// If-None-Match: * (s3rver): only Create's Exists check guards there, and
// the suite's test of the store's own guard does not apply.
var ignoresIfNoneMatch = map[string]bool{"s3rver": true}

// setS3Env sets static test credentials so no real AWS config is consulted.
func setS3Env(t *testing.T) { testserver.S3Credentials(t, "test") }

// copyRefusingS3 is testserver.FakeS3T behind a front that answers every
// server-side copy (a request with x-amz-copy-source) as s3rver does, which
// does not decode the escaped copy source: NoSuchBucket. copies counts
// them.
func copyRefusingS3(t *testing.T, bucket string, copies *atomic.Int64) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s3 := gofakes3.New(be).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if src := r.Header.Get("X-Amz-Copy-Source"); src != "" {
			copies.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>%s</BucketName></Error>`, src)
			return
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// openOK opens rawURL and fails the test on error.
func openOK(t *testing.T, rawURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("Open(%s): %v", rawURL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// backends lists the stores the conformance suite runs against.
func backends() []backendCase {
	return []backendCase{
		{"file", func(t *testing.T) *Store {
			return openOK(t, "file://"+t.TempDir()+"/bronze/root")
		}},
		{"s3", func(t *testing.T) *Store {
			setS3Env(t)
			ep := testserver.FakeS3T(t, "lake")
			return openOK(t, "s3://lake/bronze/x?region=us-east-1&use_path_style=true&endpoint="+ep)
		}},
		{"s3-no-server-copy", func(t *testing.T) *Store {
			setS3Env(t)
			ep := copyRefusingS3(t, "lake", new(atomic.Int64))
			return openOK(t, "s3://lake/bronze/x?region=us-east-1&use_path_style=true&endpoint="+ep)
		}},
		{"s3rver", func(t *testing.T) *Store {
			// An S3 implementation nobody at fluxo wrote; its server-side
			// copy does not decode the escaped copy source.
			testserver.S3Credentials(t, "S3RVER") // s3rver's built-in account
			ep := testserver.S3rverT(t, "lake")
			return openOK(t, "s3://lake/bronze/x?region=us-east-1&use_path_style=true&endpoint="+ep)
		}},
		{"s3-legacy-param", func(t *testing.T) *Store {
			setS3Env(t)
			ep := testserver.FakeS3T(t, "lake")
			return openOK(t, "s3://lake?s3ForcePathStyle=true&endpoint="+ep)
		}},
	}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"CreateExistsRead", testCreateExistsRead},
		{"CreateTwiceFails", testCreateTwice},
		{"ConditionalWriteGuard", testConditionalGuard},
		{"List", testList},
		{"LayoutPaths", testLayoutWrite},
		{"CheckWritable", testCheckWritable},
		{"FailedReaderCreatesNothing", testFailedReader},
		{"InvalidKeys", testInvalidKeys},
		{"ReadMissing", testReadMissing},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.name == "ConditionalWriteGuard" && ignoresIfNoneMatch[b.name] {
						t.Skip("this store ignores If-None-Match: *; Create's Exists check is the only guard (see Store.Create)")
					}
					tc.run(t, b.open(t))
				})
			}
		})
	}
}

func testCreateExistsRead(t *testing.T, s *Store) {
	ctx := context.Background()
	key := "a/b/part-00000.avro"
	if ok, err := s.Exists(ctx, key); err != nil || ok {
		t.Fatalf("Exists before create = %v, %v", ok, err)
	}
	if err := s.Create(ctx, key, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, key); err != nil || !ok {
		t.Fatalf("Exists after create = %v, %v", ok, err)
	}
	got, err := s.Read(ctx, key)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if err := s.Create(ctx, "a/b/_SUCCESS", bytes.NewReader(nil)); err != nil {
		t.Fatalf("empty object: %v", err)
	}
}

func testCreateTwice(t *testing.T, s *Store) {
	ctx := context.Background()
	key := "k/_manifest.json"
	if err := s.Create(ctx, key, strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	err := s.Create(ctx, key, strings.NewReader("second"))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Create error = %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), "append-only") {
		t.Errorf("error does not explain the cause: %v", err)
	}
	got, err := s.Read(ctx, key)
	if err != nil || string(got) != "first" {
		t.Fatalf("content after failed overwrite = %q, %v", got, err)
	}
}

// testConditionalGuard bypasses the Exists pre-check to prove the backend's
// own "only if absent" write refuses to overwrite.
func testConditionalGuard(t *testing.T, s *Store) {
	ctx := context.Background()
	if err := s.write(ctx, "g/part-00000.avro", strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	err := s.write(ctx, "g/part-00000.avro", strings.NewReader("second"))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("conditional write error = %v, want ErrExists", err)
	}
	if got, err := s.Read(ctx, "g/part-00000.avro"); err != nil || string(got) != "first" {
		t.Fatalf("content = %q, %v", got, err)
	}
}

func testList(t *testing.T, s *Store) {
	ctx := context.Background()
	for _, k := range []string{"t/x/2", "t/x/1", "t/y/1", "u/1"} {
		if err := s.Create(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix string
		want   string
	}{
		{"t/x/", "t/x/1 t/x/2"},
		{"t/", "t/x/1 t/x/2 t/y/1"},
		{"", "t/x/1 t/x/2 t/y/1 u/1"},
		{"none/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			got, err := s.List(ctx, tc.prefix)
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("List(%q) = %v, %v; want %s", tc.prefix, got, err, tc.want)
			}
		})
	}
}

func testLayoutWrite(t *testing.T, s *Store) {
	ctx := context.Background()
	day := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)
	keys := []string{
		PartPath("shop", "shop", "orders", day, "r1", 0, "avro"),
		PartPath("shop", "shop", "orders", day, "r1", 1, "avro"),
		ManifestPath("shop", "shop", "orders", day, "r1"),
		SuccessPath("shop", "shop", "orders", day, "r1"),
	}
	for _, k := range keys {
		if err := s.Create(ctx, k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, RunDir("shop", "shop", "orders", day, "r1")+"/")
	want := "shop/shop/orders/date=2026-03-07/run=r1/_SUCCESS shop/shop/orders/date=2026-03-07/run=r1/_manifest.json " +
		"shop/shop/orders/date=2026-03-07/run=r1/part-00000.avro shop/shop/orders/date=2026-03-07/run=r1/part-00001.avro"
	if err != nil || strings.Join(got, " ") != want {
		t.Fatalf("List = %v, %v", got, err)
	}
}

func testCheckWritable(t *testing.T, s *Store) {
	ctx := context.Background()
	for range 2 {
		if err := s.CheckWritable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, ProbeDir+"/")
	if err != nil || len(got) != 2 {
		t.Fatalf("probes = %v, %v", got, err)
	}
}

// failingReader returns some data, then an error.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.sent {
		return 0, errors.New("source broke")
	}
	r.sent = true
	return copy(p, "partial"), nil
}

func testFailedReader(t *testing.T, s *Store) {
	ctx := context.Background()
	err := s.Create(ctx, "broken/part-00000.avro", &failingReader{})
	if err == nil {
		t.Fatal("Create with failing reader succeeded")
	}
	if ok, err := s.Exists(ctx, "broken/part-00000.avro"); err != nil || ok {
		t.Fatalf("partial object left behind: %v, %v", ok, err)
	}
	if got, err := s.List(ctx, "broken/"); err != nil || len(got) != 0 {
		t.Fatalf("List after failed write = %v, %v", got, err)
	}
}

func testInvalidKeys(t *testing.T, s *Store) {
	for _, k := range []string{"", "/abs", "a/../b", "dir/", "a//b", "."} {
		if err := s.Create(context.Background(), k, strings.NewReader("x")); err == nil {
			t.Errorf("Create(%q) succeeded", k)
		}
	}
}

func testReadMissing(t *testing.T, s *Store) {
	if _, err := s.Read(context.Background(), "missing"); err == nil {
		t.Fatal("Read of a missing key succeeded")
	}
}

var _ io.Reader = (*failingReader)(nil)

func TestOpenErrors(t *testing.T) {
	setS3Env(t)
	ep := testserver.FakeS3T(t, "lake")
	tests := []struct {
		name     string
		url      string
		sentinel error
		want     []string
	}{
		{"closed port", fmt.Sprintf("s3://lake/p?region=us-east-1&use_path_style=true&endpoint=http://127.0.0.1:%d", testserver.ClosedPort(t)),
			ErrUnreachable, []string{"cannot reach the S3 endpoint http://127.0.0.1:", "check the endpoint"}},
		{"missing bucket", "s3://nosuch/p?region=us-east-1&use_path_style=true&endpoint=" + ep,
			ErrNoBucket, []string{`bucket "nosuch" does not exist`, "aws s3 mb s3://nosuch"}},
		{"bad scheme", "gs://b/p", nil, []string{"unsupported scheme", "file:///path or s3://bucket/prefix"}},
		{"relative file", "file://rel/dir", nil, []string{"absolute path"}},
		{"no bucket", "s3:///p", nil, []string{"missing bucket name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := Open(ctx, tc.url)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tc.sentinel)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestRelativeFileURL opens the default bronze.url, file://./bronze, which
// is relative to the working directory.
func TestRelativeFileURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"file://./bronze", "bronze"},
		{"file://./a/b", "a/b"},
		{"file:///abs/x", "/abs/x"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			loc, err := parseLocation(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if !filepath.IsAbs(want) {
				wd, _ := os.Getwd()
				want = filepath.Join(wd, want)
			}
			if loc.bucket != want {
				t.Fatalf("directory %q, want %q", loc.bucket, want)
			}
		})
	}
}
