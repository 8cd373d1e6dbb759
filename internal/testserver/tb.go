package testserver

import (
	"context"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TB is the part of testing.TB the helpers below use; *testing.T and
// *testing.B satisfy it. It exists so that this package does not import
// "testing".
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// InCI reports whether the CI environment variable is set to a true value
// (e.g. CI=true), in which case Require fails instead of skipping.
func InCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Require skips the test when servers of the given kind (see Available)
// cannot be started here, with the reason; under CI (see InCI) it fails the
// test instead, so a broken CI image cannot silently skip everything.
func Require(t TB, kind string) {
	t.Helper()
	err := Available(kind)
	if err == nil {
		return
	}
	if InCI() {
		t.Fatalf("testserver: %s is required when CI=true: %v", kind, err)
	}
	t.Skipf("testserver: %s not available: %v", kind, err)
}

// MariaDBT calls Require and StartMariaDB, fails the test if the server does
// not start, and registers Cleanup to Close it.
func MariaDBT(t TB, opts MariaDBOptions) *MariaDB {
	t.Helper()
	Require(t, KindMariaDB)
	m, err := StartMariaDB(context.Background(), opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Fatalf("%v", err)
		}
	})
	return m
}

// PostgresT calls Require and StartPostgres, fails the test if the server
// does not start, and registers Cleanup to Close it.
func PostgresT(t TB, opts PostgresOptions) *Postgres {
	t.Helper()
	Require(t, KindPostgres)
	p, err := StartPostgres(context.Background(), opts)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Fatalf("%v", err)
		}
	})
	return p
}

// KafkaT calls StartKafka, fails the test on error and registers Cleanup to
// close the cluster. It returns the cluster and its seed addresses.
func KafkaT(t TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	c, seeds, err := StartKafka(opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(c.Close)
	return c, seeds
}

// RegistryT calls StartRegistry, fails the test on error and registers
// Cleanup to close the registry. It returns the registry and its base URL.
func RegistryT(t TB, opts ...srfake.Option) (*srfake.Registry, string) {
	t.Helper()
	reg, url, err := StartRegistry(opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(reg.Close)
	return reg, url
}
