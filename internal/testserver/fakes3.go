package testserver

import (
	"net/http/httptest"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// FakeS3T starts an in-memory S3 (gofakes3) on a free loopback port with
// bucket created and returns its endpoint (http://127.0.0.1:port); Cleanup
// stops it. It accepts any credentials (see S3Credentials).
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

// S3Credentials sets static AWS credentials (key as id and secret) for the
// test and the processes it starts, and points the AWS SDK away from the
// user's config and profiles, so that it never probes an instance metadata
// address.
func S3Credentials(t interface{ Setenv(key, value string) }, key string) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": key,
		"AWS_SESSION_TOKEN": "", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
}
