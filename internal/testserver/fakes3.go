package testserver

import (
	"net/http/httptest"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// FakeS3T starts an in-memory S3 (gofakes3) on a free loopback port with
// bucket created and returns its endpoint (http://127.0.0.1:port); Cleanup
// stops it. It accepts any credentials; set static ones (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) so that the AWS SDK never probes an instance
// metadata address.
func FakeS3T(t TB, bucket string) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatalf("gofakes3: create bucket %q: %v", bucket, err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}
