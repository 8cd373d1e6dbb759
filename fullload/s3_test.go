package fullload

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/fluxo-cdc/fluxo/cdc"
	"github.com/fluxo-cdc/fluxo/internal/lake/bronze"
	"github.com/fluxo-cdc/fluxo/internal/testserver"
)

// openS3Store starts an in-process S3 (gofakes3) and opens a store on it
// with static credentials, so the AWS SDK never probes the metadata address.
func openS3Store(t *testing.T) *bronze.Store {
	t.Helper()
	return openS3At(t, testserver.FakeS3T(t, "lake"), "test")
}

// openS3rverStore starts s3rver, an S3 implementation fluxo did not write
// (its server-side copy fails: it does not decode the escaped copy source),
// and opens a store on it.
func openS3rverStore(t *testing.T) *bronze.Store {
	t.Helper()
	return openS3At(t, testserver.S3rverT(t, "lake"), "S3RVER")
}

// openS3At opens the bucket lake at endpoint with static credentials key.
func openS3At(t *testing.T, endpoint, key string) *bronze.Store {
	t.Helper()
	testserver.S3Credentials(t, key)
	s, err := bronze.Open(context.Background(), "s3://lake/bronze?region=us-east-1&use_path_style=true&endpoint="+endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeIDs reads the ids of a table's complete run from the store.
func storeIDs(t *testing.T, s *bronze.Store, table, runID string) []int64 {
	t.Helper()
	dir := "shop/shop/" + table + "/date=2026-11-21/run=" + runID + "/"
	keys, err := s.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	success := false
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "/_SUCCESS"):
			success = true
		case strings.HasSuffix(k, ".avro"):
			raw, err := s.Read(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := ocf.NewDecoder(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			for dec.HasNext() {
				var rec map[string]any
				if err := dec.Decode(&rec); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, rec["id"].(int64))
			}
		}
	}
	if !success {
		t.Fatalf("%s: no _SUCCESS among %v", table, keys)
	}
	sortIDs(ids)
	return ids
}

// TestS3ResumeAfterCrash: a run that fails part-way resumes on S3, on
// gofakes3 and on s3rver, and the tables read whole (staged, then copied)
// are complete.
func TestS3ResumeAfterCrash(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *bronze.Store{"gofakes3": openS3Store, "s3rver": openS3rverStore} {
		t.Run(name, func(t *testing.T) { testS3ResumeAfterCrash(t, open(t)) })
	}
}

func testS3ResumeAfterCrash(t *testing.T, s *bronze.Store) {
	d := newFakeDumper()
	d.addTable("orders", 4000, cdc.SplitKey)
	d.addTable("events", 2000, cdc.SplitNone)
	d.failAfter.Store(2500)
	if _, err := Run(context.Background(), testOptions(d, s, "r1")); err == nil {
		t.Fatal("crashed run succeeded")
	}
	d.failAfter.Store(0)
	if _, err := Run(context.Background(), testOptions(d, s, "r1")); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, "orders", storeIDs(t, s, "orders", "r1"), 4000)
	checkIDs(t, "events", storeIDs(t, s, "events", "r1"), 2000)
}
