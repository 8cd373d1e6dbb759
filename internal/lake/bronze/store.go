// Package bronze is the object-store layer of the bronze data lake used by
// fluxo fullload: it opens bronze.url (file:// or s3://), lays out run
// directories and writes objects append-only. It never overwrites or deletes
// an object, and offers no delete method at all (RemoveTemp removes only the
// file driver's temporary files, which are not objects).
package bronze

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
)

// Store is an append-only bronze object store. It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	loc    location
	// copyThrough: the store's server-side copy failed once, Copy reads
	// and writes objects itself (see Copy).
	copyThrough atomic.Bool
}

// String returns the store's URL without its query parameters.
func (s *Store) String() string { return s.loc.display }

// Close releases the store's resources.
func (s *Store) Close() error { return s.bucket.Close() }

// checkKey rejects keys that could escape the prefix or name a directory.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("bronze: invalid key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("bronze: invalid key %q", key)
		}
	}
	return nil
}

// Exists reports whether an object exists at key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, s.classify("read", key, err)
	}
	return ok, nil
}

// Create writes data to a new object at key. It never overwrites: if the key
// exists, it returns an error wrapping ErrExists and the existing object is left
// intact. Two guards apply: an Exists check before writing, and the backend's
// conditional write (S3: PutObject with If-None-Match: *, which rejects a
// concurrent writer atomically on AWS S3 and compatible stores that honour it;
// file://: the driver checks for the target under a per-Store lock just before
// renaming its temporary file into place). Remaining race window: for file://,
// two processes (or two Stores) creating the same key at the same instant can
// both pass the check, and the later rename wins; S3-compatible stores that
// ignore If-None-Match have the same window between the check and the write.
// Fluxo avoids it by giving every run and part a distinct key. If reading data
// fails, the write is aborted and no object is created.
func (s *Store) Create(ctx context.Context, key string, data io.Reader) error {
	exists, err := s.Exists(ctx, key)
	if err != nil {
		return err
	}
	if exists {
		return s.existsErr(key, nil)
	}
	return s.write(ctx, key, data)
}

// existsErr builds the ErrExists error for key.
func (s *Store) existsErr(key string, cause error) error {
	if cause == nil {
		return fmt.Errorf("bronze.url %s: %q: %w: the bronze layer is append-only; use a new run id", s.loc.display, key, ErrExists)
	}
	return fmt.Errorf("bronze.url %s: %q: %w: the bronze layer is append-only; use a new run id (%w)", s.loc.display, key, ErrExists, cause)
}

// write streams data to key with a conditional "only if absent" writer, aborting
// (not committing) the object if data fails.
func (s *Store) write(ctx context.Context, key string, data io.Reader) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: contentType(key),
		IfNotExist:  true,
	})
	if err != nil {
		return s.writeErr(key, err)
	}
	if _, err := io.Copy(w, data); err != nil {
		cancel()
		_ = w.Close()
		return s.writeErr(key, err)
	}
	return s.writeErr(key, w.Close())
}

// writeErr classifies a write error, mapping a failed precondition to ErrExists.
func (s *Store) writeErr(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case isPreconditionFailed(err):
		return s.existsErr(key, err)
	}
	return s.classify("write", key, err)
}

// contentType picks the MIME type for key from its extension.
func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	case strings.HasSuffix(key, ".avro"):
		return "application/avro"
	}
	return "application/octet-stream"
}

// Read returns the whole content of the object at key.
func (s *Store) Read(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	data, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, s.classify("read", key, err)
	}
	return data, nil
}

// tempFile matches the in-flight temporary files of the file:// driver.
var tempFile = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// List returns the keys (relative to the store prefix) of all objects whose key
// starts with prefix, sorted. In-flight temporary files of file:// are skipped.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, s.classify("list", prefix, err)
		}
		if s.loc.scheme == "file" && tempFile.MatchString(obj.Key) {
			continue
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	return keys, nil
}

// CheckWritable writes a small probe object under _fluxo_probe/ and reads it
// back, so that missing permissions are reported before a load starts. Probes
// are never deleted, because the store is append-only and fluxo holds no delete
// permission; they are a few bytes each, and an operator may expire the
// _fluxo_probe/ prefix with a bucket lifecycle rule.
func (s *Store) CheckWritable(ctx context.Context) error {
	key, body, err := newProbe()
	if err != nil {
		return err
	}
	if err := s.Create(ctx, key, bytes.NewReader(body)); err != nil {
		return err
	}
	got, err := s.Read(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, body) {
		return fmt.Errorf("bronze.url %s: probe %q read back different content: the store does not keep what is written", s.loc.display, key)
	}
	return nil
}

// newProbe returns a unique probe key and its content.
func newProbe() (string, []byte, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("bronze: probe name: %w", err)
	}
	now := time.Now().UTC()
	key := ProbeDir + "/" + now.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	return key, []byte("fluxo write probe " + now.Format(time.RFC3339Nano) + "\n"), nil
}
